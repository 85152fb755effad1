/**
 * Issue 23, item 4: training data with no rows is an error, not a success. `tessera train` and
 * `tessera local` on an empty file, or on one whose lines are all blank, exit 2 naming the file,
 * and save no model (an untrained model passed off as a result).
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { requireEtcd } from '../helpers/etcd';
import { runTessera } from '../helpers/tessera';

describe('training data with no rows (issue 23, item 4; real processes)', function () {
  this.timeout(120_000);
  let dir: string;
  const files: Record<string, string> = {};
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-empty-data-'));
    files.empty = path.join(dir, 'empty.txt');
    files.blank = path.join(dir, 'blank.txt');
    fs.writeFileSync(files.empty, '');
    fs.writeFileSync(files.blank, '\n\n\n'); // blank lines are skipped, not malformed
  });
  after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

  const a = (kind: string) => (kind === 'empty' ? 'an empty' : 'a blank');
  for (const kind of ['empty', 'blank'] as const) {
    it(`tessera train on ${a(kind)} file exits 2 naming it, and saves no model`, async () => {
      const out = path.join(dir, `model-${kind}`);
      const run = await runTessera(['train', '--data', files[kind], '--out', out, '--json'], { env: { TESSERA_TF_BACKEND: 'wasm' } });
      expect(run.code, run.stderr).to.equal(2);
      expect(run.stderr).to.contain(`training data has no rows: ${files[kind]}`);
      expect(run.stderr).to.not.match(/\n\s+at /); // one line, no stack trace
      expect(run.stdout, 'no JSON result for a run that trained nothing').to.equal('');
      expect(fs.existsSync(out), 'model directory').to.equal(false);
    });
  }

  describe('tessera local', () => {
    before(function () { requireEtcd(this); });
    for (const kind of ['empty', 'blank'] as const) {
      it(`on ${a(kind)} file exits 2 naming it (the chief fails the job), and saves no model`, async () => {
        const runDir = path.join(dir, `local-${kind}`);
        const run = await runTessera(['local', '--data', files[kind], '--ps', '1', '--workers', '1', '--run-dir', runDir, '--json'],
          { env: { TESSERA_TF_BACKEND: 'wasm' } });
        expect(run.code, run.stderr).to.equal(2);
        expect(run.stderr).to.match(new RegExp(`failed: training data (has no rows|is empty): ${files[kind].replace(/[.]/g, '\\.')}`));
        expect(run.stderr).to.contain('[TESSERA_ERR_CONFIG]');
        expect(run.stdout).to.equal('');
        expect(fs.existsSync(path.join(runDir, 'checkpoints', 'model')), 'model directory').to.equal(false);
      });
    }
  });
});
