import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { listVersions } from '../../src/export/model-root';
import { parse, stringify } from 'yaml';
import { criteoSplitDir, lastJson, runTessera as tessera } from '../helpers/tessera';

const ROOT = path.resolve(__dirname, '..', '..', '..');



describe('tessera train / eval / gen binaries (real processes)', function () {
  this.timeout(120_000);
  let dir: string;
  before(function () {
    const split = criteoSplitDir('tessera-cli-');
    if (split === undefined) this.skip();
    dir = split;
  });
  after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

  it('train --json saves a model, and publishes it as version 1 with --export-dir (issue 14); eval --json scores both identically', async () => {
    const model = path.join(dir, 'model');
    const root = path.join(dir, 'models');
    const t = await tessera(['train', '--job', path.join(ROOT, 'examples', 'criteo-deepfm.yaml'), '--data', path.join(dir, 'train.txt'),
      '--eval', path.join(dir, 'eval.txt'), '--epochs', '1', '--out', model, '--export-dir', root, '--json']);
    expect(t.code, t.stderr).to.equal(0);
    const trained = lastJson(t.stdout);
    expect(trained).to.include.keys('samples', 'samples_per_s', 'train_cpu_s', 'auc', 'logloss', 'model');
    expect(trained.samples).to.equal(7000);
    // The worker's CPU while training (bench:train's per-sample figure, issue 18 §3): some, and no more than 2 cores' worth of its time.
    expect(trained.train_cpu_s).to.be.above(0).and.below((2 * 7000) / trained.samples_per_s + 1);
    expect(trained.model_version).to.equal(1);
    expect(trained.model_dir).to.equal(path.join(root, 'criteo-deepfm', '1'));
    expect(listVersions(root, 'criteo-deepfm')).to.deep.equal([1]);
    for (const saved of [model, trained.model_dir]) {
      const e = await tessera(['eval', '--checkpoint', saved, '--data', path.join(dir, 'eval.txt'), '--json']);
      expect(e.code, e.stderr).to.equal(0);
      const scored = lastJson(e.stdout);
      expect(scored.rows).to.equal(1000);
      expect(scored.auc, saved).to.be.closeTo(trained.auc, 1e-9);
      expect(scored.logloss, saved).to.be.closeTo(trained.logloss, 1e-6);
    }
  });

  it('stops with a message naming the file when malformed lines exceed the error budget', async () => {
    const bad = path.join(dir, 'bad.txt');
    const good = fs.readFileSync(path.join(dir, 'eval.txt'), 'utf8').split('\n').filter(Boolean);
    fs.writeFileSync(bad, `${[...good, ...Array.from({ length: 50 }, () => '1\tnot-a-number\tx')].join('\n')}\n`);
    const t = await tessera(['train', '--job', path.join(ROOT, 'examples', 'criteo-deepfm.yaml'), '--data', bad, '--out', path.join(dir, 'm2')]);
    expect(t.code).to.not.equal(0);
    expect(t.stderr).to.contain('bad.txt');
  });

  // Issue 21: early stopping on the eval metric.
  it('training.early_stop ends the run once the eval AUC stops improving; without eval data it is refused in one line', async () => {
    const doc = parse(fs.readFileSync(path.join(ROOT, 'examples', 'criteo-deepfm.yaml'), 'utf8'));
    doc.training = { ...doc.training, epochs: 4, early_stop: { metric: 'auc', patience: 1, min_delta: 1 } }; // no gain can reach 1
    delete doc.data.eval;
    const job = path.join(dir, 'early-stop.yaml');
    fs.writeFileSync(job, stringify(doc));
    const small = path.join(dir, 'small.txt');
    fs.writeFileSync(small, `${fs.readFileSync(path.join(dir, 'train.txt'), 'utf8').split('\n').slice(0, 1000).join('\n')}\n`);
    const t = await tessera(['train', '--job', job, '--data', small, '--eval', path.join(dir, 'eval.txt'), '--out', path.join(dir, 'm3'), '--json']);
    expect(t.code, t.stderr).to.equal(0);
    expect(lastJson(t.stdout)).to.include({ epochs: 2, samples: 2000 });
    expect(t.stderr).to.match(/early stop after epoch 2: auc best at epoch 1 \(0\.\d{4}\), no improvement for 1 epoch/);
    const refused = await tessera(['train', '--job', job, '--data', small, '--out', path.join(dir, 'm4')]);
    expect(refused.code).to.equal(2);
    expect(refused.stderr.trim()).to.match(/training\.early_stop needs evaluation data: pass --eval PATH or set data\.eval/);
    expect(refused.stderr).to.not.match(/\n\s+at /);
  });

  it('refuses an unknown model naming the key', async () => {
    const t = await tessera(['train', '--model', 'dfm', '--data', path.join(dir, 'train.txt')]);
    expect(t.code).to.equal(2);
    expect(t.stderr).to.contain('--model: unknown model "dfm"'); // issue 22: the flag, not a key the user never wrote
  });
});
