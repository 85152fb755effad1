/**
 * Issue 18 §3: a cluster worker's data shard trained with the data path on its own thread
 * (training.data_thread), against real PS servers (gRPC on port 0) and real etcd. The commit rule
 * is the in-thread one: a worker stopped mid-shard commits the position after the last batch
 * whose pushes were applied, the next reader resumes from it, and every row of the shard is
 * counted once across the two.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import { silentLogger } from '../../src/common/logger';
import { EtcdJobStore } from '../../src/control/etcd-job-store';
import type { Assignment, JobState } from '../../src/control/job-types';
import { selectBackend } from '../../src/model/backend';
import { loadJobSpec } from '../../src/spec/job-spec';
import { DataThreadSession } from '../../src/worker/data-thread-session';
import { buildJob } from '../../src/worker/job';
import { psParams } from '../../src/worker/ps-params';
import { threadSteps } from '../../src/worker/shard-steps';
import { trainShard } from '../../src/worker/shard-trainer';
import { etcdClientPerTest } from '../helpers/etcd';
import { rowsInShard, syntheticData, SYNTHETIC_SPEC } from '../helpers/cluster';
import { createTestCluster, TestCluster } from '../helpers/ps';
import { DATA_PLANES } from '../../src/wire/grpc-options';

const ROWS = 3_000;

// On both data planes: the thread's client uses the worker's --data-plane (ADR 0038, amendment 1).
for (const dataPlane of DATA_PLANES) describe(`a data shard trained with the data thread: exactly-once positions (real etcd, issue 18), data plane ${dataPlane}`, function () {
  this.timeout(120_000);
  const etcd = etcdClientPerTest();
  let data: { dir: string; train: string };
  let c: TestCluster | undefined;
  const sessions: DataThreadSession[] = [];
  before(async () => {
    await selectBackend(silentLogger(), 'cpu');
    data = await syntheticData(ROWS);
  });
  afterEach(async () => {
    await Promise.all(sessions.splice(0).map((s) => s.close()));
    await c?.tearDown();
  });
  after(() => data && fs.rmSync(data.dir, { recursive: true, force: true }));

  it('a worker stopped mid-shard commits where its applied pushes end; the next one finishes it; every row once', async () => {
    const spec = loadJobSpec(SYNTHETIC_SPEC);
    c = await createTestCluster(2, { maxInflightPushes: 0, dataPlane });
    const { trainer, model } = buildJob(spec, psParams(c.client), silentLogger());
    await trainer.init();
    const store = new EtcdJobStore({ client: etcd.client, job: 'threaded-shard', logger: silentLogger() });
    const end = fs.statSync(data.train).size;
    const state: JobState = {
      epoch: 0, epochs: 1, phase: 'train', samplesBefore: 0, stepsBefore: 0, trainSecondsBefore: 0, epochStartedAt: new Date().toISOString(), evals: [],
      shards: [{ id: 0, path: data.train, start: 0, end, gzip: false }],
    };
    await store.createState(state);
    const run = async (a: Assignment, stopAfterSteps: number) => {
      await store.assign(a);
      const session = new DataThreadSession({ init: { spec, shardMap: c!.map, reads: model.reads, logLevel: 'silent', dataPlane } });
      sessions.push(session);
      let trained = 0;
      const steps = threadSteps(session, model, { onStep: (s) => { trained = s.samples; } });
      const out = await trainShard({
        workerId: a.worker, store, steps, maxErrorRate: 0, commitEveryMs: 0, logger: silentLogger(), stopping: () => trained >= stopAfterSteps * 256,
      }, a, state.shards[0], (await store.snapshot()).progress.get(0));
      return { out, trained };
    };
    const first = await run({ shard: 0, epoch: 0, worker: 'worker-0', incarnation: 'i1' }, 4);
    expect(first.out.done).to.equal(false);
    expect(first.trained).to.equal(4 * 256);
    const mid = (await store.snapshot()).progress.get(0)!;
    expect(mid.rows, 'rows committed by the stopped worker').to.equal(first.trained);
    expect(await rowsInShard({ id: 0, path: data.train, start: 0, end: mid.next, gzip: false }), 'rows before the committed position').to.equal(mid.rows);

    // The chief takes the shard back from the stopped worker and hands it to another.
    expect(await store.revoke({ shard: 0, epoch: 0, worker: 'worker-0', incarnation: 'i1' })).to.equal(true);
    const second = await run({ shard: 0, epoch: 0, worker: 'worker-1', incarnation: 'i2' }, Infinity);
    expect(second.out.done).to.equal(true);
    const final = (await store.snapshot()).progress.get(0)!;
    expect(final.done).to.equal(true);
    expect(second.trained + first.trained, 'rows trained across both workers').to.equal(ROWS);
    expect(final.rows, 'rows committed for the shard').to.equal(ROWS);
    expect(final.worker).to.equal('worker-1');
  });
});
