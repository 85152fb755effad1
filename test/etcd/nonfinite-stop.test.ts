/**
 * A worker that stops on a non-finite loss records why with its shard's progress, so the chief's
 * status (and its `tessera_job_nonfinite_stops` series, which the NaN-stop alert reads) shows it
 * after the worker process is gone (issue 19).
 */
import { expect } from 'chai';
import * as fs from 'fs';
import { silentLogger } from '../../src/common/logger';
import { EtcdJobStore } from '../../src/control/etcd-job-store';
import type { Assignment, JobState } from '../../src/control/job-types';
import { jobStatus } from '../../src/chief/job-status';
import { schemaFor } from '../../src/data/record';
import { selectBackend } from '../../src/model/backend';
import { loadJobSpec } from '../../src/spec/job-spec';
import { buildJob } from '../../src/worker/job';
import { LocalParams } from '../../src/worker/local-params';
import { trainShard } from '../../src/worker/shard-trainer';
import { trainerSteps } from '../../src/worker/shard-steps';
import { etcdClientPerTest } from '../helpers/etcd';
import { syntheticData, SYNTHETIC_SPEC } from '../helpers/cluster';

/** Parameters whose every pulled row is NaN: the first step's loss is NaN. */
class PoisonedParams extends LocalParams {
  override async pull(table: string, ids: Uint32Array, dim: number, opts?: { readOnly?: boolean }) {
    return (await super.pull(table, ids, dim, opts)).fill(NaN);
  }
}

describe('non-finite loss stop, recorded in etcd (real etcd)', function () {
  this.timeout(60_000);
  const etcd = etcdClientPerTest();
  let data: { dir: string; train: string };
  before(async () => {
    await selectBackend(silentLogger(), 'cpu');
    data = await syntheticData(2_000);
  });
  after(() => data && fs.rmSync(data.dir, { recursive: true, force: true }));

  it('commits the shard with the error naming the step; the job status counts it', async () => {
    const store = new EtcdJobStore({ client: etcd.client, job: 'nan-stop', logger: silentLogger() });
    const end = fs.statSync(data.train).size;
    const state: JobState = {
      epoch: 0, epochs: 1, phase: 'train', samplesBefore: 0, stepsBefore: 0, trainSecondsBefore: 0, epochStartedAt: new Date().toISOString(), evals: [],
      shards: [{ id: 0, path: data.train, start: 0, end, gzip: false }],
    };
    await store.createState(state);
    const a: Assignment = { shard: 0, epoch: 0, worker: 'worker-0', incarnation: 'i1' };
    await store.assign(a);
    const spec = loadJobSpec(SYNTHETIC_SPEC);
    const params = new PoisonedParams();
    const { trainer } = buildJob(spec, params, silentLogger());
    await trainer.init();
    const err = await trainShard({
      workerId: 'worker-0', store, steps: trainerSteps(trainer, params, schemaFor(spec.data.format), 256), maxErrorRate: 0.01,
      commitEveryMs: 1000, logger: silentLogger(), stopping: () => false,
    }, a, state.shards[0], undefined).then(() => null, (e: Error) => e);
    expect(err?.message).to.match(/loss is NaN at step 0/);
    const snap = await store.snapshot();
    expect(snap.progress.get(0)?.nonFinite).to.match(/loss is NaN at step 0/);
    const status = jobStatus({ state, progress: snap.progress, shardsDone: 0, workers: 0, chief: 'c', nowMs: Date.now(), lastLoss: null });
    expect(status.nonFiniteStops).to.equal(1);
  });
});
