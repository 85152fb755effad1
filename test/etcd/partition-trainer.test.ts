/**
 * Issue #15 §1: a worker's stream partitions trained for one pass against real components (etcd
 * for the guarded commits, redis-server for the stream, in-process PS over gRPC): each
 * partition's committed position is its last entry (bad entries after the last row included),
 * its rows are the good entries, and a partition taken back is never committed.
 */
import { expect } from 'chai';
import { decodeStepPositions, ShardPosition, StepPositions } from '../../src/control/step-positions';
import * as path from 'node:path';
import { silentLogger } from '../../src/common/logger';
import { EtcdJobStore } from '../../src/control/etcd-job-store';
import type { Assignment, JobState } from '../../src/control/job-types';
import { planStreamPartitions } from '../../src/chief/data-shards';
import { CRITEO_SCHEMA } from '../../src/data/record';
import { selectBackend } from '../../src/model/backend';
import { loadJobSpec } from '../../src/spec/job-spec';
import { RedisStreamLog } from '../../src/stream/redis-stream-log';
import { parseStreamUrl } from '../../src/stream/stream-url';
import { buildJob } from '../../src/worker/job';
import { trainPartitions } from '../../src/worker/partition-trainer';
import { psParams } from '../../src/worker/ps-params';
import { ShardLostError } from '../../src/worker/shard-trainer';
import { ROOT } from '../helpers/cluster';
import { etcdClientPerTest } from '../helpers/etcd';
import { createTestCluster, TestCluster } from '../helpers/ps';
import { redisForSuite } from '../helpers/redis';

function line(i: number): string {
  return [String(i % 2), ...Array(13).fill(String(i % 7)), `c${i % 50}`, ...Array(25).fill('')].join('\t');
}

describe('stream partitions trained for one pass (issue #15)', function () {
  this.timeout(120_000);
  const etcd = etcdClientPerTest();
  const redis = redisForSuite();
  let cluster: TestCluster | undefined;
  let log: RedisStreamLog | undefined;
  let seq = 0;
  afterEach(async () => { await cluster?.tearDown(); await log?.close(); cluster = undefined; log = undefined; });

  async function setUp(key: string): Promise<{ store: EtcdJobStore; state: JobState; deps: Parameters<typeof trainPartitions>[0] }> {
    await selectBackend(silentLogger());
    const spec = loadJobSpec(path.join(ROOT, 'examples', 'synthetic-deepfm.yaml'));
    cluster = await createTestCluster(1, { maxInflightPushes: 0 });
    const params = psParams(cluster.client);
    const { trainer } = buildJob(spec, params, silentLogger());
    await trainer.init();
    log = new RedisStreamLog(parseStreamUrl(redis.handle.streamUrl(key)));
    const store = new EtcdJobStore({ client: etcd.client, job: `pt-${++seq}`, logger: silentLogger() });
    const state: JobState = {
      epoch: 0, epochs: 1, phase: 'train', samplesBefore: 0, stepsBefore: 0, trainSecondsBefore: 0, epochStartedAt: new Date().toISOString(), evals: [],
      shards: planStreamPartitions(redis.handle.streamUrl(key), 2),
    };
    await store.createState(state);
    return {
      store, state,
      deps: { workerId: 'w0', store, params, trainer, log, schema: CRITEO_SCHEMA, batchSize: 64, commitEveryMs: 50, blockMs: 100, roundMs: 30_000, logger: silentLogger(), stopping: () => false },
    };
  }

  it('commits each partition\'s last entry id and its good rows, past bad entries at the end', async () => {
    const { store, state, deps } = await setUp('p');
    const ids = await log!.append([
      ...Array.from({ length: 300 }, (_, i) => ({ key: `p:${i % 2}`, fields: { line: line(i) } })),
      { key: 'p:1', fields: { line: 'bad' } }, { key: 'p:1', fields: { nothing: 'here' } },
    ]);
    const mine: Assignment[] = [0, 1].map((shard) => ({ shard, epoch: 0, worker: 'w0', incarnation: 'i1' }));
    for (const a of mine) expect(await store.assign(a)).to.equal(true);
    const bad: number[] = [];
    const out = await trainPartitions({ ...deps, onBadLines: (n) => bad.push(n) }, mine, state.shards, new Map());
    expect(out.rows).to.equal(300);
    const snap = await store.snapshot();
    expect(snap.progress.get(0)).to.deep.include({ rows: 150, entry: ids[298], next: 0, done: false, worker: 'w0' });
    expect(snap.progress.get(1)).to.deep.include({ rows: 150, entry: ids[301] });
    expect(snap.progress.get(0)!.steps).to.be.at.least(3); // 150 rows in batches of at most 64
    expect(bad.reduce((a, b) => a + b, 0)).to.equal(2);

    // The next pass reads nothing twice: it starts after the committed entries.
    await log!.append([{ key: 'p:0', fields: { line: line(1) } }]);
    const again = await trainPartitions(deps, mine, state.shards, snap.progress);
    expect(again.rows).to.equal(1);
    expect((await store.snapshot()).progress.get(0)!.rows).to.equal(151);
  });

  // Issue 15 (ADR 0040): before each step's push, the trainer says where its partitions will stand
  // once that step is applied; the positions its last step carried are the ones it commits.
  it('sets the positions after each step before its push, and drops them once committed', async () => {
    const { store, state, deps } = await setUp('r');
    const ids = await log!.append(Array.from({ length: 200 }, (_, i) => ({ key: `r:${i % 2}`, fields: { line: line(i) } })));
    const mine: Assignment[] = [0, 1].map((shard) => ({ shard, epoch: 0, worker: 'w0', incarnation: 'i1' }));
    for (const a of mine) expect(await store.assign(a)).to.equal(true);
    const last = new Map<number, ShardPosition>();
    const positions = new StepPositions({ worker: 'w0', incarnation: () => 'i1' });
    const set = positions.set.bind(positions);
    positions.set = (p) => { last.set(p.shard, p); set(p); };
    await trainPartitions({ ...deps, positions }, mine, state.shards, new Map());
    const snap = await store.snapshot();
    for (const shard of [0, 1]) expect(last.get(shard), `partition ${shard}`).to.deep.include({ rows: 100, entry: snap.progress.get(shard)!.entry, steps: snap.progress.get(shard)!.steps });
    expect(last.get(1)!.entry).to.equal(ids[199]);
    expect(decodeStepPositions(positions.encode())!.shards, 'committed: dropped').to.deep.equal([]);
  });

  it('stops with ShardLostError, committing nothing more, once a partition is taken back', async () => {
    const { store, state, deps } = await setUp('q');
    await log!.append(Array.from({ length: 200 }, (_, i) => ({ key: `q:${i % 2}`, fields: { line: line(i) } })));
    const mine: Assignment[] = [0, 1].map((shard) => ({ shard, epoch: 0, worker: 'w0', incarnation: 'i1' }));
    for (const a of mine) await store.assign(a);
    await store.revoke(mine[1]);
    await store.assign({ ...mine[1], worker: 'w1', incarnation: 'j1' });
    const err = await trainPartitions(deps, mine, state.shards, new Map()).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(ShardLostError);
    expect((err as ShardLostError).shard).to.equal(1);
    expect((await store.snapshot()).progress.has(1)).to.equal(false);
  });
});
