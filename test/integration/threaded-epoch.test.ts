/**
 * The worker's data path on its own thread (issue 18 §3, src/worker/threaded-epoch.ts): against
 * real PS servers (gRPC on port 0), an epoch with the data thread trains the same rows to the
 * same numbers as the Trainer's own loop, and a failure on the data thread (an error in the data
 * path, or the thread dying) rejects the epoch with one clear error instead of hanging.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { silentLogger } from '../../src/common/logger';
import { RowReader } from '../../src/data/reader';
import { schemaFor } from '../../src/data/record';
import { generate } from '../../src/gen/generate';
import { selectBackend } from '../../src/model/backend';
import { parseJobSpec } from '../../src/spec/job-spec';
import { DENSE_TABLE } from '../../src/spec/job-tables';
import { buildJob } from '../../src/worker/job';
import { psParams } from '../../src/worker/ps-params';
import { trainEpochThreaded } from '../../src/worker/threaded-epoch';
import { DataThreadSession } from '../../src/worker/data-thread-session';
import { ReportedPushWindow, WorkerMetrics } from '../../src/worker/worker-metrics';
import { Registry } from 'prom-client';
import { createTestCluster, TestCluster } from '../helpers/ps';

const SPEC = parseJobSpec(`
name: threaded
data: { format: criteo }
features:
  numeric: [{ names: [I1, I2, I3, I4, I5, I6, I7, I8, I9, I10, I11, I12, I13], transform: log, missing: 0 }]
  categorical: [{ names: [C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11, C12, C13], table: emb }]
  tables: [{ name: emb, dim: 8, optimizer: { kind: adagrad, lr: 0.05 } }]
model: { kind: deepfm, hidden: [32] }
training: { batch_size: 256, max_inflight_pushes: 0, dense_sync_every: 1, seed: 3 }
`);

describe('threaded data path: same rows, same numbers, failures surface (issue 18)', function () {
  this.timeout(120_000);
  let dir: string;
  let file: string;
  const clusters: TestCluster[] = [];
  before(async () => {
    await selectBackend(silentLogger());
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-threaded-'));
    file = path.join(dir, 'train.tsv');
    await generate({ rows: 2_000, seed: 5, vocab: 5_000, out: file });
  });
  after(async () => {
    await Promise.all(clusters.map((c) => c.tearDown()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function fresh() {
    const c = await createTestCluster(2, { maxInflightPushes: 0 });
    clusters.push(c);
    const job = buildJob(SPEC, psParams(c.client), silentLogger());
    await job.trainer.init();
    return { c, ...job };
  }

  it('trains the same rows to the same losses and weights as the in-thread Trainer', async () => {
    const a = await fresh();
    const losses: number[] = [];
    const inThread = await a.trainer.trainEpoch(new RowReader(file, schemaFor('criteo')).batches(256), { afterStep: (s) => { losses.push(s.loss); } });
    const b = await fresh();
    const threadLosses: number[] = [];
    const threaded = await trainEpochThreaded({ spec: SPEC, model: b.model, shardMap: b.c.map, file, onStep: (s) => { threadLosses.push(s.loss); } });
    expect(threaded.samples).to.equal(2_000);
    expect(threaded.samples).to.equal(inThread.samples);
    expect(threaded.steps).to.equal(inThread.steps);
    expect(threaded.summary).to.contain('2000 rows');
    expect(threadLosses).to.have.length(losses.length);
    threadLosses.forEach((l, i) => expect(l, `step ${i + 1}`).to.be.closeTo(losses[i], 1e-6));
    const wa = await a.c.client.data.pullDense(DENSE_TABLE);
    const wb = await b.c.client.data.pullDense(DENSE_TABLE);
    let worst = 0;
    for (let i = 0; i < wa.length; i++) worst = Math.max(worst, Math.abs(wa[i] - wb[i]));
    expect(worst, 'largest difference of a dense weight').to.be.below(1e-5);
  });

  // Issue 18 §3: a cluster worker's thread serves one run per data shard; the dense weights its
  // thread pulled after a run's last push must not be taken as the next run's (one step late).
  it('two runs on one data thread train the same numbers as two in-thread epochs', async () => {
    const a = await fresh();
    const losses: number[] = [];
    for (let e = 0; e < 2; e++) await a.trainer.trainEpoch(new RowReader(file, schemaFor('criteo')).batches(256), { afterStep: (s) => { losses.push(s.loss); } });
    const b = await fresh();
    const session = new DataThreadSession({ init: { spec: SPEC, shardMap: b.c.map, reads: b.model.reads, logLevel: 'silent' } });
    const threadLosses: number[] = [];
    try {
      for (let e = 0; e < 2; e++) await session.train({ path: file, reader: {} }, b.model, { afterStep: (s) => { threadLosses.push(s.loss); } });
    } finally {
      await session.close();
    }
    expect(threadLosses).to.have.length(losses.length);
    threadLosses.forEach((l, i) => expect(l, `step ${i + 1}`).to.be.closeTo(losses[i], 1e-6));
  });

  // Issue 15 (ADR 0040): with tagSteps, the thread tags each step's pushes with its own step id and
  // the positions the main thread sent with the step's gradients, on every PS.
  it('tags the thread\'s pushes with its step numbers and the positions sent with each step', async () => {
    const b = await fresh();
    const session = new DataThreadSession({ init: { spec: SPEC, shardMap: b.c.map, reads: b.model.reads, logLevel: 'silent', tagSteps: true } });
    const seen: number[] = [];
    try {
      await session.train({ path: file, reader: {} }, b.model, {
        positions: (s) => new TextEncoder().encode(`at ${s.next}`),
        afterStep: (s) => { seen.push(s.next); },
      });
    } finally {
      await session.close();
    }
    const parties = b.c.client.checkpoints.stepCutParties('unused', dir, 'full');
    for (const [i, party] of parties.entries()) {
      const answer = await party.prepare(`probe-${i}`, 10_000);
      await party.release(`probe-${i}`, 'test probe');
      expect([...answer.values()].map((a) => ({ step: a.step, positions: new TextDecoder().decode(a.positions) })), `PS ${i}`)
        .to.deep.equal([{ step: seen.length, positions: `at ${seen[seen.length - 1]}` }]);
    }
  });

  // Issue 18 §3: under --data-thread the pushes leave from the thread's own PS client, so the
  // staleness it measures and its push-window figures must come back to the main thread's metrics.
  it('push staleness and the push window measured on the data thread reach the worker metrics', async () => {
    const b = await fresh();
    const registry = new Registry();
    const window = new ReportedPushWindow();
    const metrics = new WorkerMetrics(registry, { pushes: window });
    const r = await trainEpochThreaded({
      spec: SPEC, model: b.model, shardMap: b.c.map, file, stalenessSampleEvery: 1,
      onStaleness: (u) => metrics.onStaleness(u), onFigures: (f) => window.update(f),
    });
    // Every step is sampled; each pushes its batch's distinct rows with the versions it pulled.
    expect(metrics.staleness.counts.reduce((n, c) => n + c, 0), 'rows measured').to.be.at.least(r.steps);
    // Batch N+1 is pulled before batch N's push lands, so rows the two share are at least 1 update stale.
    expect(metrics.staleness.sum, 'updates missed, summed over the measured rows').to.be.greaterThan(0);
    const text = await registry.metrics();
    expect(text).to.match(/tessera_worker_push_staleness_updates_count \d+/);
    expect(/tessera_worker_push_staleness_updates_count (\d+)/.exec(text)![1]).to.not.equal('0');
  });

  it('an error in the data path (a missing file) rejects the epoch with one line naming it', async () => {
    const b = await fresh();
    const missing = path.join(dir, 'no-such-file.tsv');
    const err = await trainEpochThreaded({ spec: SPEC, model: b.model, shardMap: b.c.map, file: missing }).then(() => null, (e: Error) => e);
    expect(err).to.be.instanceOf(Error);
    expect(err!.message).to.contain('no-such-file.tsv');
    expect(err!.message).to.not.contain('\n');
  });

  it('a data thread that dies mid-epoch rejects the epoch instead of hanging', async () => {
    const b = await fresh();
    let worker: Worker | undefined;
    const err = await trainEpochThreaded({
      spec: SPEC, model: b.model, shardMap: b.c.map, file,
      startThread: (init) => (worker = new Worker(path.join(__dirname, '..', '..', 'src', 'worker', 'data-thread.js'), { workerData: init })),
      onStep: (s) => { if (s.step === 2) void worker!.terminate(); },
    }).then(() => null, (e: Error) => e);
    expect(err).to.be.instanceOf(Error);
    expect(err!.message).to.match(/data thread exited \(code \d+\) before the epoch ended/);
  });
});
