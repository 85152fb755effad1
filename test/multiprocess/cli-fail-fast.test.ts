/**
 * Issue 22 §1, "fail fast, and say why": the `tessera` binary, spawned, ends with exit 2 and one
 * line naming the cause (no stack trace) for a wrong-format file in cluster mode, a missing file,
 * an unreachable etcd, bad arguments, a chief that cannot start, and a port in use; and checks
 * its arguments before any work (no data is generated first).
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { requireEtcd } from '../helpers/etcd';
import { runTessera, TesseraRun } from '../helpers/tessera';
import { ROOT } from '../helpers/cluster';

const CRITEO_SPEC = path.join(ROOT, 'examples', 'criteo-deepfm.yaml');
const FORMAT1 = path.join(ROOT, 'test', 'fixtures', 'checkpoint-format1');
const SMALL = ['--ps', '1', '--workers', '1', '--chiefs', '1'];

/** One line on stderr naming the problem: no stack frames, no data generated before it. */
function expectOneLine(r: TesseraRun, pattern: RegExp): void {
  expect(r.code, r.stderr).to.equal(2);
  expect(r.stderr).to.match(pattern);
  expect(r.stderr, 'a stack trace').to.not.match(/^\s+at /m);
}

describe('issue 22 §1: fail fast, and say why (the tessera binary)', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-fail-fast-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('tessera local', () => {
    before(function () { requireEtcd(this); });

    it('an Avazu CSV under a Criteo spec fails the job through the chief, with the format hint (it looped before)', async () => {
      const csv = path.join(dir, 'avazu.csv');
      const header = 'id,click,hour,C1,banner_pos,site_id,site_domain,site_category,app_id,app_domain,app_category,device_id,device_ip,device_model,device_type,device_conn_type,C14,C15,C16,C17,C18,C19,C20,C21';
      const row = (i: number) => `${1000 + i},0,14102100,1005,0,1fbe01fe,f3845767,28905ebd,ecad2386,7801e8d9,07d7df22,a99f214a,ddd2926e,44956a24,1,2,15706,320,50,1722,0,35,-1,79`;
      fs.writeFileSync(csv, `${[header, ...Array.from({ length: 200 }, (_, i) => row(i))].join('\n')}\n`);
      const r = await runTessera(['local', '--job', CRITEO_SPEC, '--data', csv, ...SMALL, '--run-dir', path.join(dir, 'avazu-run')]);
      expectOneLine(r, /failed: .*avazu\.csv: \d+ of \d+ lines are malformed.*set data\.format: avazu.*\[TESSERA_ERR_BAD_DATA\]/);
      expect(r.stderr).to.not.match(/restart #/);
      // Issue 22 §4: no log line repeats a key (the membership logger wrote "job" twice).
      for (const f of ['chief-0.log', 'worker-0.log', 'ps-0.log']) {
        for (const line of fs.readFileSync(path.join(dir, 'avazu-run', f), 'utf8').split('\n').filter((l) => l.startsWith('{'))) {
          expect(line.match(/"job":/g)?.length ?? 0, `${f}: ${line}`).to.be.at.most(1);
        }
      }
    });

    it('a missing --data file: one line, before any process starts', async () => {
      const r = await runTessera(['local', '--data', path.join(dir, 'nope.txt'), ...SMALL]);
      expectOneLine(r, /training data .*nope\.txt: no such file \(ENOENT\)/);
      expect(r.stderr).to.not.contain('logs in');
    });

    it('an unreachable --etcd is named before any data is generated', async () => {
      const r = await runTessera(['local', '--etcd', 'http://127.0.0.1:1', ...SMALL]);
      expectOneLine(r, /cannot reach etcd at http:\/\/127\.0\.0\.1:1 \(ECONNREFUSED/);
      expect(r.stderr).to.not.contain('tessera gen');
    });

    it('--epochs 0 is refused before generating rows', async () => {
      const r = await runTessera(['local', '--epochs', '0', ...SMALL]);
      expectOneLine(r, /--epochs must be an integer ≥ 1, got "0"/);
      expect(r.stderr).to.not.contain('tessera gen');
    });

    it('issue 18: --ps-shards 0 (local) and --shards 0 (ps) are one line naming the flag', async () => {
      const local = await runTessera(['local', '--ps-shards', '0', ...SMALL]);
      expectOneLine(local, /--ps-shards must be an integer ≥ 1, got "0"/);
      expectOneLine(await runTessera(['ps', '--shards', '0']), /--shards must be an integer in \[1, 64\], got "0"/);
      expectOneLine(await runTessera(['ps', '--shards', '2', '--id', 'primary']), /PS id "primary" must end in its number/);
    });

    it('--resume latest from an empty --checkpoint-dir, and --init-from another spec\'s checkpoint, in user words', async () => {
      const empty = fs.mkdtempSync(path.join(dir, 'empty-'));
      const resume = await runTessera(['local', '--resume', 'latest', '--checkpoint-dir', empty, ...SMALL]);
      expectOneLine(resume, /no complete checkpoint/);
      const init = await runTessera(['local', '--init-from', path.join(FORMAT1, 'ckpt-00000001-20260101T000000Z'), ...SMALL]);
      expectOneLine(init, /the checkpoint's tables \(adagrad_t, adam_t, ftrl_t, sgd_t\) don't match the spec's \(emb\)/);
    });

    it('a chief that cannot start is not restarted, and its last log line is the reason printed', async () => {
      // A checkpoint with no job record: only the chief, once running, finds that out.
      const r = await runTessera(['local', '--resume', 'latest', '--checkpoint-dir', FORMAT1, ...SMALL, '--run-dir', path.join(dir, 'chief-run')]);
      expectOneLine(r, /chief-0 stopped: .*its manifest has no job record/);
      expect(r.stderr).to.contain('not restarting it: a configuration error').and.not.match(/restart #/);
    });
  });

  describe('tessera train and tessera ps', () => {
    it('train --data /nope: one line, before any PS starts', async () => {
      const r = await runTessera(['train', '--data', path.join(dir, 'nope.txt')]);
      expectOneLine(r, /^tessera train: training data .*nope\.txt: no such file \(ENOENT\).*\n$/);
      expect(r.stderr).to.not.contain('metrics at');
    });

    it('a stray positional argument is refused, not ignored', async () => {
      const r = await runTessera(['train', 'train.txt']);
      expectOneLine(r, /unexpected argument "train\.txt"/);
    });

    it('a port in use: one line naming the address, for gRPC and for metrics', async () => {
      const taken = net.createServer();
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
      const port = String((taken.address() as net.AddressInfo).port);
      try {
        for (const flag of ['--port', '--metrics-port']) {
          const r = await runTessera(['ps', flag, port]);
          expectOneLine(r, new RegExp(`address 127\\.0\\.0\\.1:${port} is already in use \\(EADDRINUSE\\)`));
          expect(r.stderr, flag).to.not.contain('No address added');
        }
      } finally {
        taken.close();
      }
    });
  });
});
