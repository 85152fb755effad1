/**
 * Issue 22 §3, progress: `tessera local` keeps one line per evaluated epoch (`epoch n/N: eval
 * AUC …`) instead of erasing it with the live line, and the live line shows an ETA; on a
 * terminal the live line is cut to the terminal's width (a wrapped line leaves stale copies).
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ProgressLine } from '../../src/cli/progress';
import { requireEtcd } from '../helpers/etcd';
import { runTessera } from '../helpers/tessera';

describe('issue 22 §3: progress lines', function () {
  this.timeout(180_000);

  it('on a terminal the live line never exceeds its width, and is rewritten in place', () => {
    let written = '';
    const tty = { isTTY: true, columns: 40, write: (t: string) => { written += t; return true; } } as unknown as NodeJS.WriteStream;
    new ProgressLine(tty).update('x'.repeat(100));
    expect(written).to.equal(`\r\x1b[K${'x'.repeat(39)}`);
  });

  it('tessera local: one line per evaluated epoch, with epoch n/N', async function () {
    requireEtcd(this);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-progress-'));
    try {
      const r = await runTessera(['local', '--epochs', '2', '--synthetic-rows', '4000', '--ps', '1', '--workers', '1', '--chiefs', '1', '--run-dir', dir],
        { env: { TESSERA_TF_BACKEND: 'wasm' } });
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stderr).to.match(/^epoch 1\/2: eval AUC 0\.\d{4} +LogLoss \d\.\d{4} +\(400 rows\); \d+ samples trained$/m);
      expect(r.stderr).to.match(/^epoch 2\/2: eval AUC 0\.\d{4}/m);
      expect(r.stdout).to.match(/^done: 8000 samples at \d+ samples\/s; eval AUC 0\.\d{4} \(oracle AUC 0\.\d{4}\), LogLoss \d\.\d{4}\n$/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
