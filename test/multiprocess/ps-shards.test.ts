/**
 * Issue 18, section 2: one `tessera ps --shards 2` process is two PS of the job. Through real
 * processes (etcd, the PS process with its two shard threads, a worker and a chief):
 * - both shards register in etcd and the job trains against them;
 * - kill -9 of the process is survived as a PS kill is: restarted, its buckets restored from the
 *   latest checkpoint, every data row counted once;
 * - a mid-epoch checkpoint cut on the 2 shards restores onto a `--shards 1` process (the planner
 *   gives the one PS every bucket): the resumed job reads every remaining row once, and its final
 *   checkpoint evaluates to the AUC the job reported.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { silentLogger } from '../../src/common/logger';
import { LocalCluster } from '../../src/local/local-cluster';
import { EtcdMembership } from '../../src/membership/etcd-membership';
import { createEtcdClient } from '../../src/runtime/etcd-client';
import { awaitSnapshot, clusterSuite, shardLedger, snapshotOf, SYNTHETIC_SPEC } from '../helpers/cluster';
import { lastJson, runTessera } from '../helpers/tessera';

const ROWS = 12_000;
/** Epochs: enough training that a 1 s checkpoint cadence cuts one mid-job even on an idle machine. */
const EPOCHS = 3;

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
  const suite = clusterSuite(ROWS, (seq) => ({ job: `sharded-${seq}`, specPath: SYNTHETIC_SPEC, ps: 1, workers: 1, epochs: EPOCHS, backend: 'wasm' }));

  it('two shards of one process register and train; kill -9 of the process is survived; the checkpoint restores onto --shards 1', async () => {
    const root = path.join(suite.data.dir, 'ckpt');
    const saved = path.join(suite.data.dir, 'ckpt-mid');
    const c = await suite.start({ psShards: 2, data: suite.data.train, eval: suite.data.evalFile, shards: 6, checkpointDir: root, checkpointEvery: 1, leaseTtlS: 2 });
    expect(c.ps[0].addrs).to.have.length(2);
    expect(await psMembers(c)).to.deep.equal(c.ps[0].addrs.map((a, k) => `ps-${k}@${a}`).sort());
    // A checkpoint cut mid-job, written by both shards.
    const mid = await awaitSnapshot(c, () => {
      for (const d of fs.existsSync(root) ? fs.readdirSync(root) : []) {
        const f = path.join(root, d, 'manifest.json');
        if (!fs.existsSync(f)) continue;
        const m = JSON.parse(fs.readFileSync(f, 'utf8')) as { job: { state: { phase: string }; samples: number }; files: { ps: number }[] };
        if (m.job.state.phase !== 'train' || m.job.samples <= 0 || m.job.samples >= ROWS * EPOCHS) continue;
        // Kept aside at once: the chief keeps only its newest 3 checkpoints, and a slow run writes
        // more than that before the resume below (seen under load: the resume found none).
        for (const older of fs.readdirSync(root)) {
          if (older.startsWith('ckpt-') && older <= d) fs.cpSync(path.join(root, older), path.join(saved, older), { recursive: true });
        }
        return { id: d, ps: [...new Set(m.files.map((x) => x.ps))].sort() };
      }
      return undefined;
    }, 'a mid-job checkpoint');
    expect(mid.ps).to.deep.equal([0, 1]);
    await c.ps[0].kill(); // both shards at once, as when a pod is lost
    const r = await c.waitDone();
    expect(r.samples).to.equal(ROWS * EPOCHS);
    for (const s of await shardLedger(await snapshotOf(c))) expect(s.committed, `data shard ${s.shard}`).to.equal(s.actual);
    expect(fs.readFileSync(path.join(c.opts.runDir, 'chief-0.log'), 'utf8')).to.match(/restored their buckets from the latest checkpoint/);
    await c.stop();

    // Resume the mid-job checkpoint (cut on ps-0 and ps-1) onto one process of one shard.
    const one = await suite.start({ specPath: '', psShards: 1, checkpointDir: saved, resume: mid.id });
    expect(await psMembers(one)).to.deep.equal([`ps-0@${one.ps[0].addr}`]);
    const resumed = await one.waitDone();
    expect(resumed.samples).to.equal(ROWS * EPOCHS);
    for (const s of await shardLedger(await snapshotOf(one))) expect(s.committed, `data shard ${s.shard} after the resume`).to.equal(s.actual);
    expect(fs.readFileSync(path.join(one.opts.runDir, 'chief-0.log'), 'utf8')).to.match(/job restored from checkpoint/);
    const ev = await runTessera(['eval', '--checkpoint', resumed.checkpoint!, '--data', suite.data.evalFile, '--json']);
    expect(ev.code, ev.stderr).to.equal(0);
    expect(lastJson(ev.stdout).auc).to.be.closeTo(resumed.auc!, 1e-9);
  });
});
