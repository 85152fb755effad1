import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { silentLogger } from '../../src/common/logger';
import { RowReader } from '../../src/data/reader';
import { schemaFor } from '../../src/data/record';
import { generate } from '../../src/gen/generate';
import { selectBackend } from '../../src/model/backend';
import { loadJobSpec } from '../../src/spec/job-spec';
import { buildJob } from '../../src/worker/job';
import { createTestCluster, TestCluster } from '../helpers/ps';
import { psParams } from '../../src/worker/ps-params';

const ROOT = path.resolve(__dirname, '..', '..', '..');

/** Issue #3: "DeepFM on 200k synthetic rows comes within 0.02 of the teacher's AUC". */
describe('DeepFM recovers the planted teacher of tessera gen', function () {
  this.timeout(300_000);
  let c: TestCluster | undefined;
  after(async () => c?.tearDown());

  it('trains on 200k synthetic rows to within 0.02 AUC of the oracle on held-out rows', async () => {
    await selectBackend(silentLogger());
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-syn-'));
    const train = path.join(dir, 'train.tsv');
    const evalFile = path.join(dir, 'eval.tsv');
    const g = await generate({ rows: 200_000, seed: 7, vocab: 1_000_000, zipf: 1.1, out: train, evalRows: 20_000, evalOut: evalFile });
    const spec = loadJobSpec(path.join(ROOT, 'examples', 'synthetic-deepfm.yaml'));
    c = await createTestCluster(2, { maxInflightPushes: 0 });
    const { trainer } = buildJob(spec, psParams(c.client), silentLogger());
    await trainer.init();
    for (let e = 0; e < 2; e++) await trainer.trainEpoch(new RowReader(train, schemaFor('criteo')).batches(spec.training.batchSize));
    const r = await trainer.evaluate(new RowReader(evalFile, schemaFor('criteo')).batches(4096));
    const oracle = g.eval!.oracleAuc;
    expect(r.rows).to.equal(20_000);
    expect(oracle - r.auc, `student ${r.auc.toFixed(4)} vs oracle ${oracle.toFixed(4)}`).to.be.at.most(0.02);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
