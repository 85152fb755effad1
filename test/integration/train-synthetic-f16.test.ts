import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { silentLogger } from '../../src/common/logger';
import { RowReader } from '../../src/data/reader';
import { schemaFor } from '../../src/data/record';
import { generate } from '../../src/gen/generate';
import { selectBackend } from '../../src/model/backend';
import { parseJobSpec } from '../../src/spec/job-spec';
import { buildJob } from '../../src/worker/job';
import { createTestCluster } from '../helpers/ps';
import { psParams } from '../../src/worker/ps-params';

const ROOT = path.resolve(__dirname, '..', '..', '..');

/** Trains the synthetic DeepFM once (2 PS, synchronous pushes); returns held-out AUC. */
async function trainAuc(yaml: string, train: string, evalFile: string): Promise<number> {
  const spec = parseJobSpec(yaml);
  const c = await createTestCluster(2, { maxInflightPushes: 0 });
  try {
    const { trainer } = buildJob(spec, psParams(c.client), silentLogger());
    await trainer.init();
    await trainer.trainEpoch(new RowReader(train, schemaFor('criteo')).batches(spec.training.batchSize));
    return (await trainer.evaluate(new RowReader(evalFile, schemaFor('criteo')).batches(4096))).auc;
  } finally {
    await c.tearDown();
  }
}

/** Issue #6: "fp16 tables train to within 0.005 AUC of fp32 on the synthetic set". */
describe('fp16 embedding weights on the synthetic set', function () {
  this.timeout(120_000);

  it('train DeepFM to within 0.005 held-out AUC of fp32 weights', async () => {
    await selectBackend(silentLogger());
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-f16-'));
    try {
      const train = path.join(dir, 'train.tsv');
      const evalFile = path.join(dir, 'eval.tsv');
      await generate({ rows: 40_000, seed: 11, vocab: 100_000, zipf: 1.1, out: train, evalRows: 10_000, evalOut: evalFile });
      const f32Yaml = fs.readFileSync(path.join(ROOT, 'examples', 'synthetic-deepfm.yaml'), 'utf8');
      const f16Yaml = f32Yaml.replace('{ name: emb, dim: 8,', '{ name: emb, weight_format: f16, dim: 8,');
      expect(f16Yaml).to.not.equal(f32Yaml);
      const f32 = await trainAuc(f32Yaml, train, evalFile);
      const f16 = await trainAuc(f16Yaml, train, evalFile);
      expect(f32, 'the fp32 run must learn something for the comparison to mean anything').to.be.greaterThan(0.6);
      expect(Math.abs(f16 - f32), `fp16 AUC ${f16.toFixed(4)} vs fp32 ${f32.toFixed(4)}`).to.be.at.most(0.005);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
