/**
 * Checkpoint and resume through the real processes (issue #5):
 * - bit-exact resume: a deterministic job (1 worker, synchronous pushes) checkpoints at the end
 *   of epoch 1 (step S) and finishes epoch 2 (step 2S); resuming a fresh cluster from the
 *   epoch-1 checkpoint and finishing epoch 2 gives bit-identical tables, optimizer state and
 *   dense parameters;
 * - a PS killed mid-run comes back empty, gets its buckets from the latest checkpoint, and the
 *   job completes with an AUC close to a clean run's.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { LocalCluster, LocalClusterOptions } from '../../src/local/local-cluster';
import { DenseTable } from '../../src/ps/store/dense-table';
import { loadCheckpointModel } from '../../src/worker/checkpoint-model';
import { requireEtcd } from '../helpers/etcd';
import { awaitSnapshot, shardLedger, snapshotOf, syntheticData, SYNTHETIC_SPEC } from '../helpers/cluster';
import { lastJson, runTessera } from '../helpers/tessera';

// Enough rows that the job still trains when a mid-epoch checkpoint or a PS kill comes (training got
// faster with the native tower step; 20,000 rows once finished first).
const ROWS = 60_000;

function bits(a: Float32Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');
}

/** Every table of a checkpoint as `table → (id → weight bits|state bits)`. */
async function dump(checkpoint: string): Promise<Map<string, Map<string, string>>> {
  const { params } = await loadCheckpointModel(checkpoint);
  const out = new Map<string, Map<string, string>>();
  for (const { name } of params.store.list()) {
    const t = params.store.get(name);
    const rows = new Map<string, string>();
    if (t instanceof DenseTable) rows.set('dense', `${bits(t.values)}|${bits(t.state)}`);
    else t.forEachRow((lo, hi, w, st) => rows.set(`${lo}:${hi}`, `${bits(w)}|${bits(st)}`));
    out.set(name, rows);
  }
  return out;
}

describe('checkpoints through the cluster (real processes)', function () {
  this.timeout(240_000);
  let data: { dir: string; train: string; evalFile: string };
  let cluster: LocalCluster | undefined;
  let keep = false;
  before(async function () {
    requireEtcd(this);
    data = await syntheticData(ROWS);
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') keep = true;
    await cluster?.stop();
    cluster = undefined;
  });
  after(() => data && !keep && fs.rmSync(data.dir, { recursive: true, force: true }));

  async function run(name: string, opts: Partial<LocalClusterOptions>): Promise<{ checkpoint: string | null; auc: number | null; samples: number }> {
    const runDir = path.join(data.dir, name);
    fs.mkdirSync(runDir, { recursive: true });
    cluster = await LocalCluster.start({
      runDir, job: name, specPath: SYNTHETIC_SPEC, ps: 2, workers: 1, data: data.train, eval: data.evalFile, epochs: 2, shards: 3, backend: 'wasm', ...opts,
    });
    const r = await cluster.waitDone();
    await cluster.stop();
    cluster = undefined;
    return r;
  }

  it('resuming from the epoch-1 checkpoint ends bit-identical to the run that never stopped', async () => {
    const a = path.join(data.dir, 'ckpt-a');
    const full = await run('straight', { checkpointDir: a });
    expect(full.samples).to.equal(2 * ROWS);
    const ids = fs.readdirSync(a).filter((d) => d.startsWith('ckpt-')).sort();
    expect(ids.length, ids.join(',')).to.equal(2); // end of epoch 1, end of the job
    // A copy of the checkpoint root as it was after epoch 1.
    const b = path.join(data.dir, 'ckpt-b');
    fs.mkdirSync(b);
    fs.cpSync(path.join(a, ids[0]), path.join(b, ids[0]), { recursive: true });
    const verify = await runTessera(['checkpoint', 'verify', b, '--json']);
    expect(verify.code, verify.stderr).to.equal(0);
    // The user's command: `tessera local --resume latest --checkpoint-dir DIR` (spec and data plan from the checkpoint).
    const cli = await runTessera(['local', '--resume', 'latest', '--checkpoint-dir', b, '--ps', '2', '--workers', '1', '--run-dir', path.join(data.dir, 'resumed'), '--json'],
      { env: { TESSERA_TF_BACKEND: 'wasm' } });
    expect(cli.code, cli.stderr).to.equal(0);
    const resumed = lastJson(cli.stdout) as { checkpoint: string | null; auc: number | null; samples: number };
    expect(resumed.samples).to.equal(2 * ROWS);
    expect(path.basename(resumed.checkpoint!)).to.match(/^ckpt-00000002-/);
    const [x, y] = await Promise.all([dump(full.checkpoint!), dump(resumed.checkpoint!)]);
    expect([...y.keys()].sort()).to.deep.equal([...x.keys()].sort());
    for (const [table, rows] of x) {
      const other = y.get(table)!;
      expect(other.size, `rows of ${table}`).to.equal(rows.size);
      let differing = 0;
      for (const [id, v] of rows) if (other.get(id) !== v) differing++;
      expect(differing, `rows of ${table} that differ`).to.equal(0);
    }
    expect(resumed.auc).to.equal(full.auc);

    // Warm start: a new job on new rows begins from the finished job's tables and dense weights.
    const fresh = await syntheticData(4_000);
    try {
      const cold = await run('cold', { data: fresh.train, eval: data.evalFile, epochs: 1 });
      const warm = await run('warm', { data: fresh.train, eval: data.evalFile, epochs: 1, initFrom: full.checkpoint! });
      expect(warm.samples).to.equal(4_000);
      expect(fs.readFileSync(path.join(data.dir, 'warm', 'chief-0.log'), 'utf8')).to.match(/warm start: tables and dense weights loaded/);
      expect(warm.auc!, `warm ${warm.auc} vs cold ${cold.auc}`).to.be.greaterThan(cold.auc! + 0.02);
    } finally {
      fs.rmSync(fresh.dir, { recursive: true, force: true });
    }
  });

  it('a job stopped mid-epoch resumes at the checkpoint\'s data positions: no row re-read or skipped', async () => {
    const root = path.join(data.dir, 'ckpt-mid');
    const runDir = path.join(data.dir, 'mid-1');
    fs.mkdirSync(runDir, { recursive: true });
    cluster = await LocalCluster.start({
      runDir, job: 'mid-1', specPath: SYNTHETIC_SPEC, ps: 2, workers: 2, data: data.train, eval: data.evalFile, epochs: 1, shards: 4,
      backend: 'wasm', checkpointDir: root, checkpointEvery: 1,
    });
    // A checkpoint cut mid-epoch: some rows committed, not all.
    const mid = await awaitSnapshot(cluster, () => {
      if (!fs.existsSync(root)) return undefined;
      for (const d of fs.readdirSync(root)) {
        const f = path.join(root, d, 'manifest.json');
        if (!fs.existsSync(f)) continue;
        const job = JSON.parse(fs.readFileSync(f, 'utf8')).job as { state: { phase: string }; progress: { rows: number }[]; samples: number };
        if (job.state.phase === 'train' && job.samples > 0 && job.samples < ROWS) return { id: d, samples: job.samples };
      }
      return undefined;
    }, 'a mid-epoch checkpoint');
    await cluster.stop();
    cluster = undefined;
    // Keep only that checkpoint (and its chain): the job "stopped" there.
    for (const d of fs.readdirSync(root)) if (d > mid.id && d.startsWith('ckpt-')) fs.rmSync(path.join(root, d), { recursive: true });
    const runDir2 = path.join(data.dir, 'mid-2');
    fs.mkdirSync(runDir2, { recursive: true });
    cluster = await LocalCluster.start({ runDir: runDir2, job: 'mid-2', specPath: '', ps: 2, workers: 2, epochs: 1, backend: 'wasm', checkpointDir: root, resume: mid.id });
    const resumed = await cluster.waitDone();
    expect(resumed.samples, `resumed from ${mid.samples} committed rows`).to.equal(ROWS);
    // Issue 22 §3: samples/s counts only this run's samples, over this run's training seconds.
    const final = (await snapshotOf(cluster)).state!;
    expect(final.trainSecondsBefore).to.be.greaterThan(0);
    expect(resumed.samples_per_s * final.trainSecondsBefore, 'samples trained by the resumed run').to.be.closeTo(ROWS - mid.samples, 1);
    // Every shard: rows committed before the checkpoint plus those after the resume = rows in its range.
    for (const sh of await shardLedger(await snapshotOf(cluster))) {
      expect(sh.done, `shard ${sh.shard} done`).to.equal(true);
      expect(sh.committed, `rows of shard ${sh.shard}`).to.equal(sh.actual);
    }
  });

  it('a PS killed mid-run comes back from the latest checkpoint and the job completes', async () => {
    // One worker with synchronous pushes: the clean run is deterministic, so the gap is the kill's.
    const clean = await run('clean', { epochs: 1, workers: 1, shards: 6 });
    const root = path.join(data.dir, 'ckpt-ps');
    const runDir = path.join(data.dir, 'ps-kill');
    fs.mkdirSync(runDir, { recursive: true });
    cluster = await LocalCluster.start({
      runDir, job: 'ps-kill', specPath: SYNTHETIC_SPEC, ps: 2, workers: 1, data: data.train, eval: data.evalFile, epochs: 1, shards: 6,
      backend: 'wasm', checkpointDir: root, checkpointEvery: 1, leaseTtlS: 2,
    });
    const c = cluster;
    // Wait for a checkpoint to exist, then kill -9 PS 1; the cluster starts it again.
    await awaitSnapshot(c, () => (fs.existsSync(root) && fs.readdirSync(root).some((d) => fs.existsSync(path.join(root, d, 'manifest.json'))) ? true : undefined), 'a first checkpoint');
    await c.ps[1].kill();
    // The cluster restarts it (same id and port, empty) once etcd has let go of the dead one's id.
    const r = await c.waitDone();
    expect(r.samples).to.equal(ROWS);
    for (const s of await shardLedger(await snapshotOf(c))) expect(s.committed, `shard ${s.shard}`).to.equal(s.actual);
    // Whatever the kill interrupted, the checkpoints left behind verify.
    const verify = await runTessera(['checkpoint', 'verify', root, '--json']);
    expect(verify.code, verify.stdout + verify.stderr).to.equal(0);
    const chiefLog = fs.readFileSync(path.join(runDir, 'chief-0.log'), 'utf8');
    expect(chiefLog).to.match(/restored their buckets from the latest checkpoint/);
    expect(Math.abs(r.auc! - clean.auc!), `AUC ${r.auc} vs clean ${clean.auc}`).to.be.at.most(0.01);
    const ev = await runTessera(['eval', '--checkpoint', root, '--data', data.evalFile, '--json']);
    expect(ev.code, ev.stderr).to.equal(0);
    expect(lastJson(ev.stdout).auc).to.be.closeTo(r.auc!, 1e-9);
  });
});
