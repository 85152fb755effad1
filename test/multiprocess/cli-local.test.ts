/**
 * `tessera local` end to end on the Criteo sample (real etcd, PS, chief and worker processes),
 * plus the refusals a cluster owes its users: a duplicate worker id, a conflicting job spec.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse, stringify } from 'yaml';
import { LocalCluster } from '../../src/local/local-cluster';
import { requireEtcd } from '../helpers/etcd';
import { lastJson, runTessera } from '../helpers/tessera';
import { awaitSnapshot, ROOT, syntheticData, SYNTHETIC_SPEC } from '../helpers/cluster';

const CRITEO = path.resolve(ROOT, '..', 'shared', 'data', 'criteo_dac', 'train_rows_00001-08000.txt');

/** The first `trainRows` Criteo sample rows and the last 1,000 (rows 7,001-8,000), as files in `dir`. */
function criteoFiles(dir: string, prefix: string, trainRows: number): { train: string; evalFile: string } {
  const lines = fs.readFileSync(CRITEO, 'utf8').split('\n').filter((l) => l.length > 0);
  const train = path.join(dir, `${prefix}train.txt`);
  const evalFile = path.join(dir, `${prefix}eval.txt`);
  fs.writeFileSync(train, `${lines.slice(0, trainRows).join('\n')}\n`);
  fs.writeFileSync(evalFile, `${lines.slice(7000).join('\n')}\n`);
  return { train, evalFile };
}

describe('tessera local (real processes)', function () {
  this.timeout(180_000);
  let dir: string;
  before(function () {
    requireEtcd(this);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-local-test-'));
  });
  after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

  it('--ps 2 --workers 2 on the Criteo sample: every row consumed per epoch, AUC >= 0.70, a model tessera eval reads', async () => {
    const { train, evalFile } = criteoFiles(dir, '', 7000);
    const run = await runTessera(['local', '--ps', '2', '--workers', '2', '--job', path.join(ROOT, 'examples', 'criteo-deepfm.yaml'),
      '--data', train, '--eval', evalFile, '--epochs', '2', '--run-dir', path.join(dir, 'run'), '--json']);
    expect(run.code, run.stderr).to.equal(0);
    const out = lastJson(run.stdout);
    expect(out).to.include.keys('samples', 'samples_per_s', 'auc', 'logloss', 'checkpoint');
    expect(out.samples).to.equal(14_000);
    expect(out.samples_per_s).to.be.greaterThan(0);
    expect(out.auc, run.stderr).to.be.at.least(0.70);
    expect(run.stderr).to.match(/logs in .*run/);
    for (const f of ['chief-0.log', 'ps-0.log', 'ps-1.log', 'worker-0.log', 'worker-1.log']) expect(fs.existsSync(path.join(dir, 'run', f)), f).to.equal(true);
    // The curves outlive the run (issue 19): one eval line per epoch, the final one included,
    // which no scrape of the chief sees.
    const curves = fs.readFileSync(path.join(dir, 'run', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const evals = curves.filter((r) => r.kind === 'eval');
    expect(evals.map((e) => e.epoch)).to.deep.equal([1, 2]);
    expect(evals[1].auc).to.be.closeTo(out.auc, 1e-12);
    const progress = curves.filter((r) => r.kind === 'progress');
    expect(progress.length).to.be.greaterThan(1);
    expect(progress[progress.length - 1]).to.include({ phase: 'done', samples: 14_000, epoch: 2 });
    // Push staleness (issue 19 §4): the workers' sampled steps measured it, and the job's p99 (in
    // updates per row, from the progress records) reached the curves; two asynchronous workers
    // on the same tables see each other's updates, but never more than a handful per row.
    const p99s = progress.map((r) => r.push_staleness_p99).filter((v) => v !== null);
    expect(p99s, 'progress lines with a push staleness p99').to.not.deep.equal([]);
    for (const v of p99s) expect(v).to.be.a('number').within(0, 64);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'run', 'prometheus-targets.json'), 'utf8'))).to.be.an('array');
    const ev = await runTessera(['eval', '--checkpoint', out.checkpoint, '--data', evalFile, '--json']);
    expect(ev.code, ev.stderr).to.equal(0);
    expect(lastJson(ev.stdout).auc).to.be.closeTo(out.auc, 1e-6);
  });

  // Issue 21: the chief stops the job early, from the evaluations it keeps in the job state.
  it('the chief ends the job after the epoch at which training.early_stop sees no improvement', async () => {
    const { train, evalFile } = criteoFiles(dir, 'early-', 1000);
    const doc = parse(fs.readFileSync(path.join(ROOT, 'examples', 'criteo-deepfm.yaml'), 'utf8'));
    doc.name = 'early-stop';
    doc.training = { ...doc.training, epochs: 4, early_stop: { metric: 'auc', patience: 1, min_delta: 1 } }; // no gain can reach 1
    const job = path.join(dir, 'early-stop.yaml');
    fs.writeFileSync(job, stringify(doc));
    const run = await runTessera(['local', '--ps', '1', '--workers', '1', '--job', job, '--data', train, '--eval', evalFile,
      '--run-dir', path.join(dir, 'early'), '--json']);
    expect(run.code, run.stderr).to.equal(0);
    expect(lastJson(run.stdout).samples, 'two epochs of 1,000 rows, not four').to.equal(2000);
    const curves = fs.readFileSync(path.join(dir, 'early', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(curves.filter((r) => r.kind === 'eval').map((e) => e.epoch)).to.deep.equal([1, 2]);
    // Either chief may be the leader (tessera local starts two).
    const chiefLogs = ['chief-0.log', 'chief-1.log'].map((f) => path.join(dir, 'early', f)).filter((f) => fs.existsSync(f));
    expect(chiefLogs.map((f) => fs.readFileSync(f, 'utf8')).join('')).to.contain('early stop: the eval metric stopped improving');
  });

  it('fails with the install command when etcd is missing, and stops every child on Ctrl-C', async () => {
    const noEtcd = await runTessera(['local', '--run-dir', path.join(dir, 'no-etcd')], { env: { PATH: '/nonexistent' } });
    expect(noEtcd.code).to.equal(2);
    expect(noEtcd.stderr).to.contain('apt-get install -y etcd-server');

    const name = `ctrl-c-${process.pid}`;
    let sent = false;
    const run = await runTessera(['local', '--synthetic-rows', '200000', '--name', name, '--run-dir', path.join(dir, 'ctrl-c')], {
      // SIGINT once the cluster is up and training (the progress line shows samples).
      onStderr: (text, child) => {
        if (!sent && /samples [1-9]/.test(text)) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    });
    expect(sent, run.stderr).to.equal(true);
    expect(run.code).to.equal(130);
    expect(run.stderr).to.contain('stopping every process');
    const pgrep = (pattern: string) => require('child_process').spawnSync('pgrep', ['-f', pattern]).stdout.toString().trim();
    expect(pgrep(name), 'PS, chief and worker processes of the stopped cluster').to.equal('');
    expect(pgrep(path.join(dir, 'ctrl-c', 'etcd-data')), 'its etcd').to.equal('');
  });

  it('Ctrl-C in a terminal (SIGINT to the whole process group) stops in order and says nothing was saved (issue 22 §3)', async () => {
    const name = `tty-c-${process.pid}`;
    let sent = false;
    const run = await runTessera(['local', '--synthetic-rows', '200000', '--name', name, '--run-dir', path.join(dir, 'tty-c')], {
      detached: true, // its own process group, as a shell gives a foreground job
      onStderr: (text, child) => {
        if (!sent && /samples [1-9]/.test(text)) {
          sent = true;
          process.kill(-child.pid!, 'SIGINT'); // what the terminal does: every process of the group
        }
      },
    });
    expect(sent, run.stderr).to.equal(true);
    expect(run.code, run.stderr).to.equal(130);
    // etcd outlives the roles: nobody warns that the job status cannot be read.
    expect(run.stderr, 'no warning from a dead etcd').to.not.match(/Warning|cannot read the job status/);
    expect(run.stderr).to.contain(`nothing was saved (no checkpoint in ${path.join(dir, 'tty-c', 'checkpoints')}`);
    // Each role was stopped by tessera local (SIGTERM, in order), none by the terminal's SIGINT.
    const logs = fs.readdirSync(path.join(dir, 'tty-c')).filter((f) => f.endsWith('.log'))
      .map((f) => fs.readFileSync(path.join(dir, 'tty-c', f), 'utf8'));
    expect(logs.filter((l) => l.includes('"signal":"SIGTERM"')).length, 'roles stopped by tessera local').to.be.greaterThan(0);
    expect(logs.filter((l) => l.includes('"signal":"SIGINT"')), 'roles the terminal signalled').to.deep.equal([]);
  });

  it('Ctrl-C after a checkpoint names it and prints the resume command (issue 22 §3)', async () => {
    const ckpt = path.join(dir, 'tty-c2', 'ckpt');
    let sent = false;
    const run = await runTessera(['local', '--synthetic-rows', '400000', '--checkpoint-every', '1', '--checkpoint-dir', ckpt, '--run-dir', path.join(dir, 'tty-c2')], {
      detached: true,
      onStderr: (text, child) => {
        if (!sent && fs.existsSync(ckpt) && fs.readdirSync(ckpt).some((d) => fs.existsSync(path.join(ckpt, d, 'manifest.json')))) {
          sent = true;
          process.kill(-child.pid!, 'SIGINT');
        }
      },
    });
    expect(sent, run.stderr).to.equal(true);
    expect(run.code, run.stderr).to.equal(130);
    expect(run.stderr).to.match(/checkpoint ckpt-\S+ saved \(step \d+\); resume with:/);
    expect(run.stderr).to.contain(`tessera local --resume latest --checkpoint-dir ${ckpt}`);
  });

  it('refuses a second worker with a live worker\'s id, and a different spec under the same job name', async () => {
    const data = await syntheticData(20_000);
    const runDir = path.join(dir, 'refusals');
    fs.mkdirSync(runDir);
    const cluster = await LocalCluster.start({ runDir, job: 'refusals', specPath: SYNTHETIC_SPEC, ps: 1, workers: 1, data: data.train, epochs: 1, backend: 'wasm' });
    try {
      await awaitSnapshot(cluster, (s) => s.state, 'the chief to start the job');
      const dup = await runTessera(['worker', '--etcd', cluster.etcdUrl, '--job', 'refusals', '--id', 'worker-0']);
      expect(dup.code).to.equal(2);
      expect(dup.stderr).to.match(/worker-0 is already registered by pid \d+/);
      const other = path.join(runDir, 'other.yaml');
      fs.writeFileSync(other, fs.readFileSync(SYNTHETIC_SPEC, 'utf8').replace('batch_size: 256', 'batch_size: 128'));
      const conflict = await runTessera(['chief', '--etcd', cluster.etcdUrl, '--job', 'refusals', '--spec', other, '--data', data.train]);
      expect(conflict.code).to.equal(2);
      expect(conflict.stderr).to.match(/already has a different spec in etcd .* pass --force/);
      const result = await cluster.waitDone();
      expect(result.samples).to.equal(20_000);
      const st = await runTessera(['status', '--etcd', cluster.etcdUrl, '--job', 'refusals', '--json']);
      expect(st.code, st.stderr).to.equal(0);
      const status = lastJson(st.stdout);
      // Epochs are 1-based wherever a user reads them (issue 19).
      expect(status.progress).to.include({ phase: 'done', samples: 20_000, epoch: 1, epochs: 1 });
      expect(status.shards.reduce((n: number, s: { rows: number }) => n + s.rows, 0)).to.equal(20_000);
      expect(status.members.map((m: { role: string }) => m.role)).to.include('ps');
    } finally {
      await cluster.stop();
      fs.rmSync(data.dir, { recursive: true, force: true });
    }
  });
});
