/**
 * Issue 17: a client whose shard map goes stale mid-push re-sends only what was refused. Two PS
 * train (map v1); a third joins and the buckets planned for it are copied and fenced; then v2 is
 * installed on one source and the target while the other source still serves v1. A push that
 * spans both sources lands on the one at v1 and is refused as stale on the one at v2: the client
 * reads v2, slices the refused part again and sends it anew (new sequence numbers). The push
 * resolves without an error, and every row equals, bit for bit, one PS that took the same pushes
 * once and never moved. Pulls routed by v1 re-route the same way, and a request routed by v2 to
 * a PS still installing it waits for the install instead of failing.
 */
import { expect } from 'chai';
import { silentLogger } from '../../src/common/logger';
import { PsClient } from '../../src/client/ps-client';
import type { PsServer } from '../../src/ps/ps-server';
import type { TableSpec } from '../../src/ps/store/table-spec';
import { bucketOf } from '../../src/sharding/buckets';
import { bucketsOwnedBy, planShardMap, ShardMap } from '../../src/sharding/shard-map';
import { CkptCluster, ckptCluster, dumpTable, gradsFor, idRange, trainRound } from '../helpers/checkpoint';
import { joiningPs, migrationCall, movingBuckets } from '../helpers/migration';
import { until } from '../helpers/until';

const TABLES: TableSpec[] = [
  { name: 'emb', kind: 'embedding', dim: 8, optimizer: { kind: 'adagrad', lr: 0.05 }, seed: 1 },
  { name: 'dense', kind: 'dense', size: 6, optimizer: { kind: 'sgd', lr: 0.1 }, seed: 3 },
];

describe('stale shard map: the client re-sends only the refused slices (issue 17)', function () {
  this.timeout(60_000);
  let cluster: CkptCluster;
  let reference: CkptCluster;
  let joined: PsServer;
  let v2: ShardMap;
  let published: ShardMap;
  const clients: PsClient[] = [];

  /** A client like a worker's: routes by `map`, reads the newest published map when refused as stale. */
  const workerClient = (map: ShardMap) => {
    const c = new PsClient({ shardMap: map, logger: silentLogger(), maxInflightPushes: 2, latestMap: async () => published, backoff: { initialMs: 5, maxMs: 50, multiplier: 2 } });
    clients.push(c);
    return c;
  };
  const install = (s: PsServer, map: ShardMap, i: number) => s.node.setShardMap(map.version, map.numBuckets, bucketsOwnedBy(map, i));

  beforeEach(async () => {
    cluster = await ckptCluster(2, TABLES);
    reference = await ckptCluster(1, TABLES);
    joined = await joiningPs(TABLES, 1, cluster.map.numBuckets);
    v2 = planShardMap([...cluster.map.ps, { id: 2, addr: joined.addr }], { previous: cluster.map });
    published = cluster.map;
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await Promise.all([cluster.tearDown(), reference.tearDown(), joined.stop()]);
  });

  it('a push that lands on one PS and is refused as stale on the other is applied exactly once, bit for bit', async () => {
    const worker = workerClient(cluster.map);
    for (let r = 0; r < 2; r++) await Promise.all([trainRound(worker, 'emb', idRange(0, 600), 8, r), trainRound(reference.client, 'emb', idRange(0, 600), 8, r)]);
    const sources = cluster.servers.map((s, id) => ({ s, mig: `mig-${id}`, buckets: movingBuckets(cluster.map, v2, id, 2) }));
    await Promise.all(sources.map((x) => migrationCall(x.s.addr, 'BeginMigration', { migrationId: x.mig, buckets: x.buckets, targetAddr: joined.addr, shardMapVersion: 1 })));
    await Promise.all(sources.map((x) => migrationCall(x.s.addr, 'SendTail', { migrationId: x.mig, fence: true })));
    published = v2; // the commit; then the install reaches PS 1 and the target, not PS 0 yet
    install(cluster.servers[1], v2, 1);
    install(joined, v2, 2);

    // The push: ids PS 0 keeps (it takes them at v1), and every id PS 1 held at v1 (refused as stale).
    const all = idRange(0, 600);
    const owner = (m: ShardMap, k: number) => m.ps[m.owner[bucketOf(all[2 * k], all[2 * k + 1], m.numBuckets)]].id;
    const keep = [...Array(600).keys()].filter((k) => owner(cluster.map, k) === 1 || owner(v2, k) === 0);
    expect(keep.some((k) => owner(v2, k) === 2 && owner(cluster.map, k) === 1), 'some ids move from PS 1 to the new PS').to.equal(true);
    const ids = Uint32Array.from(keep.flatMap((k) => [all[2 * k], all[2 * k + 1]]));
    const grads = gradsFor(keep.length, 8, 7);
    const refusedBefore = cluster.servers[1].node.stats().counters.rejected;
    await worker.data.push('emb', ids, grads);
    await worker.data.flush(); // resolves: no error reaches the caller
    await reference.client.data.push('emb', ids, grads);
    await reference.client.data.flush();
    expect(cluster.servers[1].node.stats().counters.rejected, 'PS 1 refused the v1 slice').to.be.greaterThan(refusedBefore);
    expect(worker.map.version).to.equal(2);

    // Routed by v2 now, the worker reaches PS 0 before it installs v2: the request waits for the install.
    const refused0 = cluster.servers[0].node.stats().counters.rejected;
    const dense = new Float32Array(6).fill(0.25);
    const waiting = Promise.all([trainRound(worker, 'emb', all, 8, 8), worker.data.pushDense('dense', dense).then(() => worker.data.flush())]);
    await until(() => cluster.servers[0].node.stats().counters.rejected > refused0, 'PS 0 to refuse a v2 request');
    install(cluster.servers[0], v2, 0);
    await waiting;
    await trainRound(reference.client, 'emb', all, 8, 8);
    await reference.client.data.pushDense('dense', dense);
    await reference.client.data.flush();
    await Promise.all([...sources.map((x) => migrationCall(x.s.addr, 'EndMigration', { migrationId: x.mig, commit: true })),
      ...sources.map((x) => migrationCall(joined.addr, 'EndMigration', { migrationId: x.mig, commit: true }))]);

    // A client still at v1 pulls: every slice is refused as stale and re-routed by v2.
    const late = workerClient(cluster.map);
    const [got, want] = await Promise.all([late.data.pull('emb', all, 8, { readOnly: true }), reference.client.data.pull('emb', all, 8, { readOnly: true })]);
    expect(Buffer.from(got.buffer).equals(Buffer.from(want.buffer)), 'pulled rows equal the reference').to.equal(true);
    expect(dumpTable([...cluster.servers, joined], 'emb')).to.deep.equal(dumpTable(reference.servers, 'emb'));
    const [gotDense, wantDense] = await Promise.all([late.data.pullDense('dense'), reference.client.data.pullDense('dense')]);
    expect(Array.from(gotDense)).to.deep.equal(Array.from(wantDense));
    const dups = [...cluster.servers, joined].reduce((n, s) => n + s.node.dedup.duplicates, 0);
    expect(dups, 'no push was applied by retrying it').to.equal(0);
  });
});
