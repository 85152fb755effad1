/**
 * Issue 22 §5: the shipped examples work as shipped. examples/criteo-deepfm.yaml pointed at a
 * data/criteo/train.txt that does not exist; now it names no file and `tessera local` trains it
 * on synthetic Criteo-format rows. examples/avazu-deepfm.yaml trains on an Avazu CSV (header
 * included).
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AVAZU_HEADER } from '../../src/data/record';
import { requireEtcd } from '../helpers/etcd';
import { lastJson, runTessera } from '../helpers/tessera';
import { ROOT } from '../helpers/cluster';

/** `n` Avazu-format rows (a few values per column, clicks tied to site_category) after the header. */
function avazuCsv(n: number): string {
  const lines = [AVAZU_HEADER];
  for (let i = 0; i < n; i++) {
    const cat = i % 5;
    const click = (i * 7919) % 10 < (cat < 2 ? 6 : 1) ? 1 : 0;
    const cols = Array.from({ length: 21 }, (_, c) => (c === 4 ? `cat${cat}` : `v${(i * (c + 3)) % (c + 4)}`));
    lines.push([String(10_000 + i), String(click), `141021${String(i % 24).padStart(2, '0')}`, ...cols].join(','));
  }
  return `${lines.join('\n')}\n`;
}

describe('issue 22 §5: the examples work as shipped', function () {
  this.timeout(240_000);
  let dir: string;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-examples-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('examples/avazu-deepfm.yaml trains on an Avazu CSV with its header', async () => {
    const csv = path.join(dir, 'avazu.csv');
    fs.writeFileSync(csv, avazuCsv(3000));
    const r = await runTessera(['train', '--job', path.join(ROOT, 'examples', 'avazu-deepfm.yaml'), '--data', csv, '--eval', csv,
      '--out', path.join(dir, 'avazu-model'), '--epochs', '1', '--json'], { env: { TESSERA_TF_BACKEND: 'wasm' } });
    expect(r.code, r.stderr).to.equal(0);
    const out = lastJson(r.stdout);
    expect(out.samples).to.equal(3000); // one epoch: every row once
    expect(out.auc).to.be.greaterThan(0.6);
  });

  it('tessera local --job examples/criteo-deepfm.yaml with no --data trains on synthetic rows (it failed on a missing file)', async function () {
    requireEtcd(this);
    const r = await runTessera(['local', '--job', path.join(ROOT, 'examples', 'criteo-deepfm.yaml'), '--synthetic-rows', '2000',
      '--epochs', '1', '--ps', '1', '--workers', '1', '--chiefs', '1', '--run-dir', path.join(dir, 'criteo-run'), '--json'], { env: { TESSERA_TF_BACKEND: 'wasm' } });
    expect(r.code, r.stderr).to.equal(0);
    expect(lastJson(r.stdout).samples).to.equal(2000);
  });
});
