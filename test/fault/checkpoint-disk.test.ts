/**
 * Issue 23, item 8: a checkpoint directory that cannot be written is not retried forever.
 *
 * On a real full filesystem (a tmpfs of 1 MiB) and a real read-only one, `tessera local` (real
 * etcd, PS, chiefs, workers) fails the save with "checkpoint dir full (ENOSPC): …" (or "on a
 * read-only filesystem (EROFS)"), removes the partial checkpoint, and the job ends failed, exit 1,
 * with the cause on the terminal. With `--on-checkpoint-error continue` training goes on, and once
 * space is freed a later checkpoint succeeds and the job completes.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../../src/checkpoint/fs-durable';
import { ERROR_CODES } from '../../src/common/errors';
import { loadJobSpec } from '../../src/spec/job-spec';
import { saveModel } from '../../src/export/model-dir';
import { requireEtcd } from '../helpers/etcd';
import { syntheticData, SYNTHETIC_SPEC } from '../helpers/cluster';
import { lastJson, runTessera } from '../helpers/tessera';
import { mountTmpfs, Tmpfs } from '../helpers/tmpfs';

const ROWS = 40_000;

/** Every chief log of a run, concatenated (either candidate may lead). */
function chiefLogs(runDir: string): string {
  return fs.readdirSync(runDir).filter((f) => /^chief-\d+\.log$/.test(f)).map((f) => fs.readFileSync(path.join(runDir, f), 'utf8')).join('\n');
}

/**
 * Resolves true once `read()` matches `re`, false if `running` ends first. Re-reads the log every
 * 50 ms: the log only grows towards the line awaited.
 */
async function awaitLogLine(read: () => string, re: RegExp, running: Promise<unknown>): Promise<boolean> {
  let ended = false;
  void running.then(() => { ended = true; });
  while (!ended) {
    if (re.test(read())) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return re.test(read());
}

describe('checkpoint directory full or read-only (issue 23, item 8; real processes, real filesystems)', function () {
  this.timeout(240_000);
  let data: { dir: string; train: string; evalFile: string };
  let fsys: Tmpfs | undefined;
  before(async function () {
    requireEtcd(this);
    data = await syntheticData(ROWS);
  });
  afterEach(() => { fsys?.unmount(); fsys = undefined; });
  after(() => data && fs.rmSync(data.dir, { recursive: true, force: true }));

  function local(runDir: string, checkpointDir: string, extra: string[] = [], onStderr?: (text: string) => void) {
    return runTessera(['local', '--job', SYNTHETIC_SPEC, '--data', data.train, '--eval', data.evalFile, '--ps', '2', '--workers', '1',
      '--checkpoint-dir', checkpointDir, '--checkpoint-every', '1', '--run-dir', runDir, '--json', ...extra],
    { env: { TESSERA_TF_BACKEND: 'wasm' }, onStderr });
  }

  it('a full disk fails the job once, with "checkpoint dir full (ENOSPC)", and leaves no partial checkpoint', async function () {
    fsys = mountTmpfs(this, 1 << 20);
    const runDir = path.join(data.dir, 'enospc');
    const run = await local(runDir, fsys.dir);
    expect(run.code, run.stderr).to.equal(1);
    expect(run.stderr).to.match(/failed: checkpoint dir full \(ENOSPC\): .*\[TESSERA_ERR_CHECKPOINT_DIR\]/);
    expect(run.stdout).to.equal('');
    const logs = chiefLogs(runDir);
    expect(logs.split('\n').filter((l) => /waits and retries/.test(l) && /ENOSPC|no space/.test(l)), 'a full disk retried').to.deep.equal([]);
    expect(fs.readdirSync(fsys.dir), 'partial checkpoints and model.tmp-* left on the full disk').to.deep.equal([]);
  });

  it('the model save and the manifest write remove their temporary files on a full disk', async function () {
    fsys = mountTmpfs(this, 1 << 20);
    const spec = loadJobSpec(SYNTHETIC_SPEC);
    const dim = 8;
    async function* rows(table: string, kind: 'embedding' | 'dense') {
      if (kind === 'dense') { yield { ids: new Uint32Array(0), values: new Float32Array(16), dim: 16 }; return; }
      for (let c = 0; c < 64; c++) yield { ids: new Uint32Array(2 * 4096).map((_, i) => c * 8192 + i), values: new Float32Array(4096 * dim), dim };
    }
    const save = saveModel(path.join(fsys.dir, 'model'), {
      spec, step: 1, samples: 1, rows,
      tables: [{ name: 'emb', kind: 'embedding', dim, optimizer: { kind: 'sgd', lr: 1 } }],
      dense: { name: 'dense', kind: 'dense', size: 16, optimizer: { kind: 'sgd', lr: 1 } },
    }, 'checkpoint dir');
    const err = await save.then(() => undefined, (e: unknown) => e);
    expect(err).to.have.property('code', ERROR_CODES.CHECKPOINT_DIR);
    expect((err as Error).message).to.match(/^checkpoint dir full \(ENOSPC\): /);
    const big = Buffer.alloc(2 << 20);
    const manifest = await writeFileAtomic(path.join(fsys.dir, 'manifest.json'), big).then(() => undefined, (e: unknown) => e);
    expect(manifest).to.have.property('code', 'ENOSPC');
    expect(fs.readdirSync(fsys.dir), 'model.tmp-* and manifest.json.tmp-* left on the full disk').to.deep.equal([]);
  });

  it('a read-only filesystem fails the job with "checkpoint dir on a read-only filesystem (EROFS)"', async function () {
    fsys = mountTmpfs(this, 1 << 20, { readOnly: true });
    const run = await local(path.join(data.dir, 'erofs'), fsys.dir);
    expect(run.code, run.stderr).to.equal(1);
    expect(run.stderr).to.match(/failed: checkpoint dir on a read-only filesystem \(EROFS\): /);
  });

  it('--on-checkpoint-error continue trains on, and a checkpoint after space is freed succeeds', async function () {
    fsys = mountTmpfs(this, 1 << 20);
    const ckpt = fsys;
    const runDir = path.join(data.dir, 'continue');
    const running = local(runDir, ckpt.dir, ['--on-checkpoint-error', 'continue']);
    // Free space once the chief has logged a failed checkpoint and carried on (an event in its log).
    const freed = await awaitLogLine(() => (fs.existsSync(runDir) ? chiefLogs(runDir) : ''), /checkpoint failed on its directory; training goes on/, running);
    ckpt.resize(512 << 20);
    const run = await running;
    expect(freed, `a checkpoint failed and training went on; ${run.stderr}`).to.equal(true);
    expect(run.code, run.stderr).to.equal(0);
    const out = lastJson(run.stdout);
    expect(out.samples).to.equal(ROWS);
    expect(out.checkpoint).to.match(new RegExp(`^${ckpt.dir}/ckpt-`));
    const verify = await runTessera(['checkpoint', 'verify', ckpt.dir, '--json']);
    expect(verify.code, verify.stdout + verify.stderr).to.equal(0);
  });
});
