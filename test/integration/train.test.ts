import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { silentLogger } from '../../src/common/logger';
import { RowReader } from '../../src/data/reader';
import { schemaFor } from '../../src/data/record';
import { selectBackend } from '../../src/model/backend';
import { loadJobSpec } from '../../src/spec/job-spec';
import type { JobSpec } from '../../src/spec/types';
import { buildJob } from '../../src/worker/job';
import { LocalParams } from '../../src/worker/local-params';
import { createTestCluster, TestCluster } from '../helpers/ps';
import { psParams } from '../../src/worker/ps-params';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const CRITEO = path.resolve(ROOT, '..', 'shared', 'data', 'criteo_dac', 'train_rows_00001-08000.txt');

/** Issue #3: "train on the first 7,000 rows, evaluate on the last 1,000". */
function criteoSplit(dir: string): { train: string; evalFile: string } {
  const lines = fs.readFileSync(CRITEO, 'utf8').split('\n').filter((l) => l.length > 0);
  const train = path.join(dir, 'train.txt');
  const evalFile = path.join(dir, 'eval.txt');
  fs.writeFileSync(train, `${lines.slice(0, 7000).join('\n')}\n`);
  fs.writeFileSync(evalFile, `${lines.slice(7000).join('\n')}\n`);
  return { train, evalFile };
}

async function trainAndEval(c: TestCluster, spec: JobSpec, train: string, evalFile: string, epochs: number) {
  const { trainer } = buildJob(spec, psParams(c.client), silentLogger());
  await trainer.init();
  for (let e = 0; e < epochs; e++) await trainer.trainEpoch(new RowReader(train, schemaFor('criteo')).batches(spec.training.batchSize));
  return trainer.evaluate(new RowReader(evalFile, schemaFor('criteo')).batches(4096));
}

describe('training through real PS shards (gRPC on port 0)', function () {
  this.timeout(180_000);
  let c: TestCluster | undefined;
  let files: { train: string; evalFile: string };
  const spec = loadJobSpec(path.join(ROOT, 'examples', 'criteo-deepfm.yaml'));

  before(async function () {
    if (!fs.existsSync(CRITEO)) this.skip();
    await selectBackend(silentLogger());
    files = criteoSplit(fs.mkdtempSync(path.join(require('os').tmpdir(), 'tessera-criteo-')));
  });
  afterEach(async () => {
    await c?.tearDown();
    c = undefined;
  });

  it('DeepFM on the Criteo sample reaches AUC ≥ 0.70 (7,000 train / 1,000 eval rows)', async () => {
    c = await createTestCluster(2, { maxInflightPushes: 0 });
    const r = await trainAndEval(c, spec, files.train, files.evalFile, 2);
    expect(r.rows).to.equal(1000);
    expect(r.auc).to.be.at.least(0.70);
    expect(r.logloss).to.be.below(0.5);
  });

  it('async training with two pushes in flight lands within 0.005 AUC of synchronous training', async () => {
    c = await createTestCluster(2, { maxInflightPushes: 0 });
    const sync = await trainAndEval(c, spec, files.train, files.evalFile, 2);
    await c.tearDown();
    c = await createTestCluster(2, { maxInflightPushes: 2 });
    const async = await trainAndEval(c, spec, files.train, files.evalFile, 2);
    expect(Math.abs(async.auc - sync.auc)).to.be.at.most(0.005);
  });

  it('stops on a non-finite loss naming the step, and pushes nothing from that batch', async () => {
    class PoisonedParams extends LocalParams {
      pushes = 0;
      override async pull(table: string, ids: Uint32Array, dim: number, opts?: { readOnly?: boolean }) {
        const rows = await super.pull(table, ids, dim, opts);
        return rows.fill(NaN);
      }
      override async pushStep(...a: Parameters<LocalParams['pushStep']>) {
        this.pushes++;
        return super.pushStep(...a);
      }
    }
    const params = new PoisonedParams();
    const { trainer } = buildJob(spec, params, silentLogger());
    await trainer.init();
    const err = await trainer.trainEpoch(new RowReader(files.train, schemaFor('criteo')).batches(256)).then(() => null, (e) => e);
    expect(err.code).to.equal('TESSERA_ERR_NON_FINITE');
    expect(err.message).to.match(/loss is NaN at step 0/);
    expect(params.pushes).to.equal(0);
  });

  // Issue 19 §4: a sampled step's pushes report how stale its rows were. One worker pushing
  // synchronously: the only update that can land between a row's pull (prefetched while the
  // previous step computes) and its push is the previous step's, so every figure is 0 or 1, the
  // first step's are all 0, and each step measures every row it pushes.
  it('measures push staleness of every sampled step: one synchronous worker sees at most the previous step\'s update', async () => {
    const perStep: number[][] = [[]];
    c = await createTestCluster(2, { maxInflightPushes: 0, stalenessSampleEvery: 1, onStaleness: (u) => perStep[perStep.length - 1].push(...u) });
    const lines = fs.readFileSync(files.train, 'utf8').split('\n').slice(0, 256);
    const repeated = path.join(path.dirname(files.train), 'repeated.txt');
    fs.writeFileSync(repeated, `${[0, 1, 2, 3].map(() => lines.join('\n')).join('\n')}\n`);
    // A synchronous push is applied, and its staleness reported, before the step's onStep.
    const { trainer } = buildJob(spec, psParams(c.client), silentLogger(), () => perStep.push([]));
    await trainer.init();
    const e = await trainer.trainEpoch(new RowReader(repeated, schemaFor('criteo')).batches(256));
    expect(e.steps).to.equal(4);
    const steps = perStep.slice(0, 4);
    const rows = steps[0].length;
    expect(rows, 'distinct rows of 26 tables and their linear companions').to.be.greaterThan(1000);
    expect(steps.map((st) => st.length)).to.deep.equal([rows, rows, rows, rows]);
    expect(new Set(steps[0])).to.deep.equal(new Set([0]));
    const later = steps.slice(1).flat();
    expect(later.filter((u) => u > 1), 'more than 1 update stale').to.deep.equal([]);
    // The first requests of a prefetched pull leave before the previous step pushes.
    expect(later).to.include(1);
    // Evaluation pulls are never sampled.
    perStep.length = 0;
    perStep.push([]);
    await trainer.evaluate(new RowReader(files.evalFile, schemaFor('criteo')).batches(4096));
    expect(perStep).to.deep.equal([[]]);
  });
});
