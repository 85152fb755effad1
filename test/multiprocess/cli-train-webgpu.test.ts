/**
 * `tessera train --backend webgpu` end to end (issue #20): the real binary trains DeepFM on
 * generated data on the webgpu backend (a software Vulkan here and in CI, allowed with
 * TESSERA_WEBGPU_ALLOW_FALLBACK=1), names the backend in its --json line, exits by itself, and
 * lands within 0.005 AUC of the same run on the wasm backend (synchronous pushes and a dense sync
 * every step make both runs deterministic, so only float rounding separates them).
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { lastJson, runTessera as tessera } from '../helpers/tessera';
import { webgpuRequired } from '../helpers/webgpu';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const JOB = path.join(ROOT, 'examples', 'synthetic-deepfm.yaml');

describe('tessera train --backend webgpu (real process, issue #20)', function () {
  this.timeout(240_000);
  let dir: string;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-webgpu-'));
    const g = await tessera(['gen', '--rows', '2000', '--out', path.join(dir, 'train.tsv'), '--eval-rows', '500', '--eval-out', path.join(dir, 'eval.tsv'), '--seed', '3']);
    expect(g.code, g.stderr).to.equal(0);
  });
  after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

  const train = (backend: string): ReturnType<typeof tessera> => tessera([
    'train', '--job', JOB, '--backend', backend, '--data', path.join(dir, 'train.tsv'), '--eval', path.join(dir, 'eval.tsv'),
    '--epochs', '1', '--out', path.join(dir, `model-${backend}`), '--json',
  ], { env: { TESSERA_WEBGPU_ALLOW_FALLBACK: '1' } });

  it('trains, evaluates and saves on webgpu, within 0.005 AUC of wasm', async function () {
    const gpu = await train('webgpu');
    expect(gpu.code, gpu.stderr).to.equal(0);
    const got = lastJson(gpu.stdout);
    if (got.backend !== 'webgpu') {
      if (webgpuRequired()) throw new Error(`TESSERA_REQUIRE_WEBGPU=1 but tessera train fell back to ${got.backend}:\n${gpu.stderr}`);
      this.skip();
    }
    expect(gpu.stderr).to.contain('tfjs backend webgpu');
    expect(got.samples).to.equal(2000);
    const cpu = await train('wasm');
    expect(cpu.code, cpu.stderr).to.equal(0);
    const want = lastJson(cpu.stdout);
    expect(want.backend).to.equal('wasm');
    expect(got.auc).to.be.closeTo(want.auc, 0.005);
    expect(got.logloss).to.be.closeTo(want.logloss, 0.005);
  });
});
