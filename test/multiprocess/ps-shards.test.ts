/**
 * Issue 18, section 2: one `tessera ps --shards 2` process is two PS of the job. Through real
 * processes (etcd, the PS process with its two shard threads, a worker and a chief):
 * - both shards register in etcd and the job trains against them;
 * - kill -9 of the process is survived as a PS kill is: restarted, its buckets restored from the
 *   latest checkpoint, every data row counted once;
 * - that checkpoint, taken with 2 shards, restores onto a `--shards 1` process (the planner moves
 *   the buckets) and the resumed job ends with the same AUC as eval of the checkpoint would give.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { silentLogger } from '../../src/common/logger';
import { LocalCluster } from '../../src/local/local-cluster';
import { EtcdMembership } from '../../src/membership/etcd-membership';
import { createEtcdClient } from '../../src/runtime/etcd-client';
import { requireEtcd } from '../helpers/etcd';
import { awaitSnapshot, shardLedger, snapshotOf, syntheticData, SYNTHETIC_SPEC } from '../helpers/cluster';
import { lastJson, runTessera } from '../helpers/tessera';

const ROWS = 12_000;

/** The PS members registered in the cluster's etcd, as `id@addr`, sorted. */
async function psMembers(cluster: LocalCluster): Promise<string[]> {
  const client = createEtcdClient(cluster.etcdUrl);
  const membership = new EtcdMembership({ client, job: cluster.opts.job, logger: silentLogger() });
  try {
    return (await membership.list('ps')).map((m) => `${m.id}@${m.addr}`).sort();
  } finally {
    await membership.close();
    client.close();
  }
}

describe('tessera ps --shards (issue 18; real processes)', function () {
  this.timeout(300_000);
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

  it('two shards of one process register and train; kill -9 of the process is survived; the checkpoint restores onto --shards 1', async () => {
    const root = path.join(data.dir, 'ckpt');
    const runDir = path.join(data.dir, 'sharded');
    fs.mkdirSync(runDir, { recursive: true });
    cluster = await LocalCluster.start({
      runDir, job: 'sharded', specPath: SYNTHETIC_SPEC, ps: 1, psShards: 2, workers: 1, data: data.train, eval: data.evalFile, epochs: 1, shards: 6,
      backend: 'wasm', checkpointDir: root, checkpointEvery: 1, leaseTtlS: 2,
    });
    const c = cluster;
    expect(c.ps[0].addrs).to.have.length(2);
    expect(await psMembers(c)).to.deep.equal(c.ps[0].addrs.map((a, k) => `ps-${k}@${a}`).sort());
    // A checkpoint cut mid-epoch, written by both shards.
    const mid = await awaitSnapshot(c, () => {
      for (const d of fs.existsSync(root) ? fs.readdirSync(root) : []) {
        const f = path.join(root, d, 'manifest.json');
        if (!fs.existsSync(f)) continue;
        const m = JSON.parse(fs.readFileSync(f, 'utf8')) as { job: { state: { phase: string }; samples: number }; files: { ps: number }[] };
        if (m.job.state.phase === 'train' && m.job.samples > 0 && m.job.samples < ROWS) return { id: d, ps: [...new Set(m.files.map((x) => x.ps))].sort() };
      }
      return undefined;
    }, 'a mid-epoch checkpoint');
    expect(mid.ps).to.deep.equal([0, 1]);
    await c.ps[0].kill(); // both shards at once, as when a pod is lost
    const r = await c.waitDone();
    expect(r.samples).to.equal(ROWS);
    for (const s of await shardLedger(await snapshotOf(c))) expect(s.committed, `data shard ${s.shard}`).to.equal(s.actual);
    expect(fs.readFileSync(path.join(runDir, 'chief-0.log'), 'utf8')).to.match(/restored their buckets from the latest checkpoint/);
    await c.stop();
    cluster = undefined;

    // Resume the mid-epoch checkpoint (cut on ps-0 and ps-1) onto one process of one shard.
    for (const d of fs.readdirSync(root)) if (d > mid.id && d.startsWith('ckpt-')) fs.rmSync(path.join(root, d), { recursive: true });
    const runDir2 = path.join(data.dir, 'one-shard');
    fs.mkdirSync(runDir2, { recursive: true });
    cluster = await LocalCluster.start({ runDir: runDir2, job: 'one-shard', specPath: '', ps: 1, psShards: 1, workers: 1, epochs: 1, backend: 'wasm', checkpointDir: root, resume: mid.id });
    const one = cluster;
    expect(await psMembers(one)).to.deep.equal([`ps-0@${one.ps[0].addr}`]);
    const resumed = await one.waitDone();
    expect(resumed.samples).to.equal(ROWS);
    for (const s of await shardLedger(await snapshotOf(one))) expect(s.committed, `data shard ${s.shard} after the resume`).to.equal(s.actual);
    expect(fs.readFileSync(path.join(runDir2, 'chief-0.log'), 'utf8')).to.match(/resum/i);
    const ev = await runTessera(['eval', '--checkpoint', resumed.checkpoint!, '--data', data.evalFile, '--json']);
    expect(ev.code, ev.stderr).to.equal(0);
    expect(lastJson(ev.stdout).auc).to.be.closeTo(resumed.auc!, 1e-9);
  });
});
