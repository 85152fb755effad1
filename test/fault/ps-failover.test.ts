/**
 * Issue 17 §2, failover with bounded loss, on a whole local cluster (real etcd, PS, chief and
 * workers, each its own process): kill -9 a PS mid-job.
 * - With `ps.replication: buddy`, the chief promotes the buddy's replica once the dead PS's lease
 *   expires, and the workers re-route by the failover map. The pushes lost (acknowledged to the
 *   workers, applied by no live PS and absent from the replica) are at most what the dead PS
 *   applied within the replication lag measured at its death; the job completes with an AUC
 *   within 0.005 of a clean run.
 * - With replication off (the default), the restarted PS is restored from the latest checkpoint,
 *   as before: every update since that checkpoint is lost; the job still completes.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import type { LocalCluster } from '../../src/local/local-cluster';
import { replicationCall } from '../../src/wire/replication-client';
import { awaitSnapshot, clusterSuite, SYNTHETIC_SPEC } from '../helpers/cluster';
import { awaitLogs, logLines, psCounters, workerAcks, workersExited } from '../helpers/cluster-ledger';
import { awaitMap } from '../helpers/migration';
import { expectStatusReplication, specWith } from '../helpers/replication';

const ROWS = 40_000;
const OK_PUSHES = 'tessera_ps_requests_total';
const DUPS = 'tessera_ps_duplicate_pushes_total';

/** Pushes the PS applied (ok push requests less those acknowledged again as retries), over the live PS, or only `only`. */
async function appliedPushes(c: LocalCluster, only?: string): Promise<number> {
  const m = await psCounters(c, [OK_PUSHES, DUPS], only);
  return m.get(OK_PUSHES)! - m.get(DUPS)!;
}

async function training(c: LocalCluster): Promise<void> {
  await awaitSnapshot(c, (s) => ([...s.progress.values()].some((p) => p.rows > 2_000) ? true : undefined), 'training to be under way');
}

describe('PS failover: kill -9 with and without a buddy replica (issue 17; real processes)', function () {
  this.timeout(600_000);
  const suite = clusterSuite(ROWS, (seq) => ({
    job: `failover-${seq}`, specPath: SYNTHETIC_SPEC, ps: 2, workers: 2, data: suite.data.train, eval: suite.data.evalFile,
    epochs: 2, shards: 4, leaseTtlS: 2, commitEveryMs: 100, backend: 'wasm',
  }));
  let cleanAuc: number | undefined;

  it('a clean run with replication on: buddies recorded in the map, lag reported, rows counted once', async () => {
    const c = await suite.start({ specPath: specWith(suite.data.dir, 'buddy') });
    await training(c);
    const map = await awaitMap(c, (m) => m.ps.length === 2 && m.ps.every((p) => p.buddy !== undefined), 'buddies in the shard map');
    expect(map.ps.map((p) => p.buddy)).to.deep.equal([1, 0]);
    const status = await replicationCall<{ lagSeconds: number; buddyAddr: string }>(c.ps[0].addr, 'ReplicationStatus', {});
    expect(status.buddyAddr).to.equal(c.ps[1].addr);
    expect(status.lagSeconds).to.be.within(0, 5);
    await expectStatusReplication(c, [[0, 1], [1, 0]]);
    const result = await c.waitDone();
    expect(result.samples).to.equal(2 * ROWS);
    cleanAuc = result.auc ?? undefined;
  });

  it('replication on: the buddy is promoted, the loss is within the measured lag, and the AUC within 0.005 of the clean run', async function () {
    if (cleanAuc === undefined) this.skip();
    const c = await suite.start({ specPath: specWith(suite.data.dir, 'buddy') });
    await training(c);
    await awaitMap(c, (m) => m.ps.every((p) => p.buddy !== undefined), 'buddies in the shard map');
    // ps-1's push rate as it trains (its own /metrics), for the bound below.
    const samples: { t: number; n: number }[] = [];
    for (let i = 0; i < 8; i++) {
      samples.push({ t: Date.now(), n: await appliedPushes(c, 'id="ps-1"') });
      await new Promise((r) => setTimeout(r, 150)); // a sampling interval, not an ordering
    }
    const rate = Math.max(...samples.slice(1).map((s, i) => (s.n - samples[i].n) / Math.max(1, s.t - samples[i].t))); // pushes per ms
    const killedAt = Date.now();
    await c.ps[1].kill();
    const promoted = await awaitLogs(c, 'chief', (ls) => ls.find((l) => l.msg === 'PS lost: promoted its buddy\'s replica'), 'the chief to promote the replica');
    const result = await c.waitDone();
    expect(result.samples).to.equal(2 * ROWS);
    await workersExited(c, 2);

    const { acked, reroutes } = workerAcks(c);
    const replicated = Number(promoted.pushesApplied);
    const lost = acked - (await appliedPushes(c)) - replicated;
    const lagAtDeathMs = killedAt - Number(promoted.appliedAtMs);
    const bound = Math.ceil(rate * Math.max(0, lagAtDeathMs) * 1.5) + 2;
    console.log(`      failover: acked ${acked}, replica held ${replicated} of the dead PS's pushes, lost ${lost}, lag at death ${lagAtDeathMs} ms (bound ${bound} pushes at ${(rate * 1000).toFixed(0)}/s), promotion ${promoted.ms} ms, reroutes ${reroutes}, auc ${result.auc!.toFixed(4)} vs clean ${cleanAuc!.toFixed(4)}`);
    expect(promoted.dead).to.equal(1);
    expect(promoted.buddy).to.equal(0);
    expect(replicated, 'the replica held pushes').to.be.greaterThan(0);
    expect(lost, 'pushes lost').to.be.at.least(0);
    expect(lost, 'pushes lost, at most what the lag at death allows').to.be.at.most(bound);
    expect(Math.abs(result.auc! - cleanAuc!), 'AUC against the clean run').to.be.at.most(0.005);
    const restarted = logLines(c, 'chief').filter((l) => /restarted empty/.test(String(l.msg)));
    expect(restarted.map((l) => l.msg), 'no PS treated as restarted empty').to.deep.equal([]);
  });

  it('replication off: the restarted PS is restored from the latest checkpoint, and the job completes', async function () {
    if (cleanAuc === undefined) this.skip();
    const ckpt = fs.mkdtempSync(path.join(suite.data.dir, 'ckpt-'));
    const c = await suite.start({ specPath: specWith(suite.data.dir, 'none'), checkpointDir: ckpt, checkpointEvery: 1 });
    await training(c);
    await awaitLogs(c, 'chief', (ls) => ls.find((l) => l.msg === 'checkpoint written'), 'a first checkpoint');
    const before = await appliedPushes(c, 'id="ps-1"');
    await c.ps[1].kill();
    const result = await c.waitDone();
    expect(result.samples).to.equal(2 * ROWS);
    const chief = logLines(c, 'chief');
    expect(chief.some((l) => /promoted/.test(String(l.msg))), 'no replica to promote').to.equal(false);
    expect(chief.some((l) => /restarted empty: restored their buckets from the latest checkpoint/.test(String(l.msg))), 'restored from the checkpoint').to.equal(true);
    console.log(`      replication off: ps-1 had applied ${before} pushes when killed; restored from the latest checkpoint; auc ${result.auc!.toFixed(4)} vs clean ${cleanAuc!.toFixed(4)}`);
  });
});
