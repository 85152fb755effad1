/** ShardMapStore over a real etcd: version-guarded publish, stale writers refused, watch. */
import { expect } from 'chai';
import { TesseraError } from '../../src/common/errors';
import { silentLogger } from '../../src/common/logger';
import { ShardMapStore } from '../../src/membership/shard-map-store';
import { planShardMap, ShardMap, shardMapToJSON } from '../../src/sharding/shard-map';
import { etcdClientPerTest } from '../helpers/etcd';
import { createLogSink } from '../helpers/log-sink';
import { EventLog } from '../helpers/etcd-fixtures';

/** Bound for a watch event after a put: etcd delivers it in milliseconds. */
const EVENT_WAIT_MS = 5_000;
const PS = [{ id: 0, addr: 'ps-0:7000' }, { id: 1, addr: 'ps-1:7000' }];

describe('ShardMapStore (real etcd)', function () {
  // One etcd; every step here is a handful of etcd round trips.
  this.timeout(30_000);
  const etcd = etcdClientPerTest();
  let jobSeq = 0;
  const store = (job: string, logger = silentLogger()) => new ShardMapStore({ client: etcd.client, job, logger });
  const json = (m: ShardMap | undefined) => (m === undefined ? undefined : shardMapToJSON(m));


  it('publishes v1 then v2, each guarded by the previous version, and watch delivers both', async () => {
    const s = store(`maps-${++jobSeq}`);
    expect(await s.get()).to.equal(undefined);
    const seen = new EventLog<ShardMap>();
    const w = await s.watch(seen.push);
    expect(w.initial).to.equal(undefined);
    const v1 = planShardMap(PS, { numBuckets: 64 });
    await s.publish(v1, 0);
    expect(json(await s.get())).to.deep.equal(shardMapToJSON(v1));
    const v2 = planShardMap([...PS, { id: 2, addr: 'ps-2:7000' }], { previous: v1 });
    await s.publish(v2, 1);
    await seen.waitFor((m) => m.version === 2, EVENT_WAIT_MS, 'v2');
    expect(seen.events.map(json)).to.deep.equal([shardMapToJSON(v1), shardMapToJSON(v2)]);
    await w.stop();
  });

  it('refuses a stale writer with a clear error, and lets exactly one of two racing writers win', async () => {
    const s = store(`stale-${++jobSeq}`);
    const v1 = planShardMap(PS, { numBuckets: 16 });
    await s.publish(v1, 0);
    const v2 = planShardMap(PS.slice(0, 1), { previous: v1 });
    await s.publish(v2, 1);
    const stale = await s.publish(planShardMap(PS.slice(1), { previous: v1 }), 1).then(() => undefined, (e: TesseraError) => e);
    expect(stale?.code).to.equal('TESSERA_ERR_STALE_SHARD_MAP');
    expect(stale?.retryable).to.equal(false);
    expect(stale?.message).to.equal(
      'shard map v2 refused: expected to replace v1 but etcd holds v2; another chief published first: re-read the map and re-plan');
    const again = await s.publish(v1, 0).then(() => undefined, (e: Error) => e.message);
    expect(again).to.match(/expected to replace v0 but etcd holds v2/);
    // Two chiefs both expecting v2: the loser fails the version check or, if both read before
    // either wrote, the mod_revision guard of the transaction. Either way exactly one map lands.
    const a = planShardMap(PS, { previous: v2 });
    const b = planShardMap([{ id: 7, addr: 'ps-7:7000' }], { previous: v2 });
    const results = await Promise.allSettled([store(`stale-${jobSeq}`).publish(a, 2), store(`stale-${jobSeq}`).publish(b, 2)]);
    expect(results.map((r) => r.status).sort()).to.deep.equal(['fulfilled', 'rejected']);
    const loser = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect((loser.reason as TesseraError).code).to.equal('TESSERA_ERR_STALE_SHARD_MAP');
    const winner = results[0].status === 'fulfilled' ? a : b;
    expect(json(await s.get())).to.deep.equal(shardMapToJSON(winner));
  });

  it('rejects a non-increasing version, and skips a corrupt stored value in watch', async () => {
    const job = `corrupt-${++jobSeq}`;
    const sink = createLogSink('info');
    const s = store(job, sink.logger);
    const v1 = planShardMap(PS, { numBuckets: 8 });
    expect(await s.publish(v1, 1).then(() => '', (e: Error) => e.message)).to.match(/version 1 must be greater than expectedPreviousVersion 1/);
    const seen = new EventLog<ShardMap>();
    const w = await s.watch(seen.push);
    await etcd.client.put(`/tessera/${job}/shardmap`).value('{"version": "oops"}');
    await etcd.client.put(`/tessera/${job}/shardmap`).value(JSON.stringify(shardMapToJSON(v1)));
    await seen.waitFor((m) => m.version === 1, EVENT_WAIT_MS, 'v1 after the corrupt value');
    expect(seen.events).to.have.length(1);
    expect(sink.lines.some((l) => l.msg === 'ignoring a stored shard map that does not decode')).to.equal(true);
    await w.stop();
  });
});
