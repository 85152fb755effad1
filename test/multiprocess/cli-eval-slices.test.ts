/**
 * Issue 14 (sliced evaluation): the real `tessera eval --slice-by … --group-by … --json` on a
 * DeepFM model trained by `tessera train` reports per-slice AUC, LogLoss, calibration and count,
 * the top slices with `other`, and grouped AUC that agree with scikit-learn (Debian's
 * python3-sklearn) run over the per-row predictions `--predictions` wrote. Skips, saying why,
 * when sklearn is not installed (scripts/ensure-deps.sh installs it as root);
 * TESSERA_REQUIRE_PYTHON_SKLEARN=1 makes that a failure.
 */
import { execFile, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import type { SliceMetrics, SlicingReport } from '../../src/eval/sliced-eval';
import { lastJson, runTessera as tessera } from '../helpers/tessera';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const CRITEO = path.resolve(ROOT, '..', 'shared', 'data', 'criteo_dac', 'train_rows_00001-08000.txt');
const SCRIPT = path.join(ROOT, 'test', 'interop', 'slice_auc.py');
const SKIP_MESSAGE = 'scikit-learn not installed: apt-get install -y python3-sklearn';

/** The first Python that has sklearn, or null. */
function findPython(): string | null {
  for (const py of [process.env.TESSERA_PYTHON, 'python3', '/usr/bin/python3']) {
    if (py && spawnSync(py, ['-c', 'import sklearn'], { stdio: 'ignore' }).status === 0) return py;
  }
  return null;
}

/** What slice_auc.py prints. */
interface SklearnSlices {
  rows: number;
  auc: number;
  slices: Record<string, { count: number; auc: number | null; logloss: number; calibration: number | null }>;
  gauc: number;
  gauc_groups: number;
}

describe('tessera eval --slice-by / --group-by against scikit-learn (issue 14)', function () {
  this.timeout(180_000);
  let python: string | null = null;
  let dir = '';
  let model = '';

  before(async function () {
    if (!fs.existsSync(CRITEO)) this.skip();
    python = findPython();
    if (!python) {
      if (process.env.TESSERA_REQUIRE_PYTHON_SKLEARN === '1') throw new Error(`TESSERA_REQUIRE_PYTHON_SKLEARN=1 but ${SKIP_MESSAGE}`);
      // eslint-disable-next-line no-console
      console.warn(`  skipping: ${SKIP_MESSAGE}`);
      this.skip();
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-slices-'));
    const lines = fs.readFileSync(CRITEO, 'utf8').split('\n').filter(Boolean);
    fs.writeFileSync(path.join(dir, 'train.txt'), `${lines.slice(0, 5000).join('\n')}\n`);
    fs.writeFileSync(path.join(dir, 'eval.txt'), `${lines.slice(5000).join('\n')}\n`);
    model = path.join(dir, 'model');
    const t = await tessera(['train', '--job', path.join(ROOT, 'examples', 'criteo-deepfm.yaml'), '--data', path.join(dir, 'train.txt'),
      '--eval', path.join(dir, 'eval.txt'), '--epochs', '1', '--out', model, '--json']);
    expect(t.code, t.stderr).to.equal(0);
  });
  after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

  it('reports per-slice and grouped figures that sklearn computes from the same predictions', async () => {
    const predictions = path.join(dir, 'predictions.tsv');
    const e = await tessera(['eval', '--checkpoint', model, '--data', path.join(dir, 'eval.txt'),
      '--slice-by', 'C6,C9', '--group-by', 'C1', '--top-k', '3', '--predictions', predictions, '--json']);
    expect(e.code, e.stderr).to.equal(0);
    const out = lastJson(e.stdout);
    expect(out).to.include.keys('auc', 'logloss', 'rows', 'slices', 'gauc');
    expect(out.rows).to.equal(3000);
    const { stdout } = await promisify(execFile)(python!, [SCRIPT, path.join(dir, 'eval.txt'), predictions, 'C6,C9', 'C1'], { maxBuffer: 16 << 20 });
    const sk = JSON.parse(stdout) as SklearnSlices;
    expect(sk.rows).to.equal(3000);
    expect(out.auc).to.be.closeTo(sk.auc, 1e-9); // the overall AUC is exact

    const slicings = out.slices as SlicingReport[];
    expect(slicings.map((s) => s.fields)).to.deep.equal([['C6'], ['C9'], ['C6', 'C9']]);
    let compared = 0;
    for (const s of slicings) {
      expect(s.top.length, s.fields.join()).to.be.at.most(3);
      const names = Object.keys(sk.slices).filter((k) => k.split(',').map((kv) => kv.split('=')[0]).join() === s.fields.join());
      // The top 3 by count are sklearn's 3 largest slices of these fields, and other holds the rest.
      const largest = names.sort((a, b) => sk.slices[b].count - sk.slices[a].count).slice(0, 3);
      expect(s.top.map((m) => m.count)).to.deep.equal(largest.map((k) => sk.slices[k].count));
      expect(s.values).to.equal(names.length);
      const inTop = s.top.reduce((n, m) => n + m.count, 0);
      expect((s.other?.count ?? 0) + inTop).to.equal(3000);
      for (const m of s.top) compared += compareSlice(m, sk.slices[m.slice]);
    }
    expect(compared, 'slices with both classes compared').to.be.at.least(6);
    expect(out.gauc).to.be.closeTo(sk.gauc, 1e-9); // exact per group on both sides
    expect(out.gauc_groups).to.include({ field: 'C1', groups: sk.gauc_groups, skipped_rows: 0 });
    expect(fs.readFileSync(predictions, 'utf8').trim().split('\n')).to.have.length(3000);
  });

  it('prints the slices as a table without --json', async () => {
    const e = await tessera(['eval', '--checkpoint', model, '--data', path.join(dir, 'eval.txt'), '--slice-by', 'C9', '--group-by', 'C1']);
    expect(e.code, e.stderr).to.equal(0);
    // Issue 22 §2: the result line, then the report, on stdout.
    expect(e.stdout).to.match(/^model .* AUC 0\.\d{4} .* rows 3000\nslices by C9 \(\d+ values\)\n/);
    expect(e.stdout).to.match(/\nall +3000 /);
    expect(e.stdout).to.match(/\nC9=[0-9a-f]{8} +\d+ /);
    expect(e.stdout).to.match(/\ngrouped AUC by C1: 0\.\d{4} /);
  });

  it('refuses an unknown field with one line naming it, the closest field and the spec\'s fields (exit 2)', async () => {
    const e = await tessera(['eval', '--checkpoint', model, '--data', path.join(dir, 'eval.txt'), '--slice-by', 'C6,C66', '--json']);
    expect(e.code).to.equal(2);
    expect(e.stderr.trim().split('\n')).to.have.length(1);
    expect(e.stderr).to.contain('--slice-by: "C66" is not a field of job criteo-deepfm (did you mean C6?)');
    expect(e.stderr).to.contain('its fields are I1, I2,');
    expect(e.stdout).to.equal('');
    const g = await tessera(['eval', '--checkpoint', model, '--data', path.join(dir, 'eval.txt'), '--group-by', 'user']);
    expect(g.code).to.equal(2);
    expect(g.stderr).to.match(/^tessera eval: --group-by: "user" is not a field of job criteo-deepfm; its fields are I1, .*, C26 \[TESSERA_ERR_CONFIG\]\n$/);
  });
});

/**
 * Checks one reported slice against sklearn's figures; the AUC within the slice's own stated
 * binning bound. Returns 1 when the slice had an AUC to compare.
 */
function compareSlice(m: SliceMetrics, sk: SklearnSlices['slices'][string] | undefined): number {
  expect(sk, `sklearn has slice ${m.slice}`).to.not.equal(undefined);
  expect(m.count, m.slice).to.equal(sk!.count);
  expect(m.logloss, m.slice).to.be.closeTo(sk!.logloss, 1e-6);
  if (sk!.calibration === null) expect(m.calibration, m.slice).to.equal(null);
  else expect(m.calibration, m.slice).to.be.closeTo(sk!.calibration, 1e-9);
  if (sk!.auc === null) {
    expect(m.auc, m.slice).to.equal(null);
    return 0;
  }
  expect(Math.abs(m.auc - sk!.auc), `${m.slice}: AUC ${m.auc} vs sklearn ${sk!.auc}`).to.be.at.most(m.auc_max_error + 1e-12);
  expect(m.auc_ci95[0]).to.be.at.most(m.auc);
  expect(m.auc_ci95[1]).to.be.at.least(m.auc);
  return 1;
}
