/**
 * Issue 17 §2, failover with bounded loss, on a whole local cluster (real etcd, PS, chief and
 * workers, each its own process): kill -9 a PS mid-job.
 * - With `ps.replication: buddy`, the chief promotes the buddy's replica once the dead PS's lease
 *   expires, and the workers re-route by the failover map. The pushes lost (acknowledged to the
 *   workers, applied by no live PS and absent from the replica) are at most what the dead PS
 *   applied within the replication lag measured at its death; the job completes with an AUC
 *   within 0.005 of a clean run.
 * - The same when the dead PS owns the dense table (issue 17 §2: the buddy replicates it from the
 *   primary's spec, and the promotion creates it there): its values survive, and no push fails
 *   "does not exist".
 * - With replication off (the default), the restarted PS is restored from the latest checkpoint,
 *   as before: every update since that checkpoint is lost; the job still completes.
 */
import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import type { LocalCluster } from '../../src/local/local-cluster';
import { denseBucket } from '../../src/sharding/dense-bucket';
import { DENSE_TABLE } from '../../src/spec/job-tables';
import { f32FromBytes } from '../../src/wire/key-block';
import { replicationCall } from '../../src/wire/replication-client';
import { psAdminService } from '../../src/wire/services';
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

async function training(c: LocalCluster, rows = 2_000): Promise<void> {
  await awaitSnapshot(c, (s) => ([...s.progress.values()].some((p) => p.rows > rows) ? true : undefined), 'training to be under way');
}

/** The dense table's weights on the PS at `addr` (ExportTable). */
async function denseOn(addr: string): Promise<Float32Array> {
  const client = new (psAdminService())(addr, grpc.credentials.createInsecure()) as unknown as grpc.Client & { ExportTable(req: object): grpc.ClientReadableStream<{ values: Buffer }> };
  try {
    return await new Promise<Float32Array>((resolve, reject) => {
      const parts: Float32Array[] = [];
      const call = client.ExportTable({ table: DENSE_TABLE });
      call.on('data', (chunk) => parts.push(Float32Array.from(f32FromBytes(chunk.values))));
      call.on('error', reject);
      call.on('end', () => resolve(Float32Array.from(parts.flatMap((p) => [...p]))));
    });
  } finally {
    client.close();
  }
}

const distance = (a: Float32Array, b: Float32Array): number => Math.sqrt(a.reduce((s, x, i) => s + (x - b[i]) ** 2, 0));

/**
 * Pushes lost at the kill of the PS killed at `killedAt`, against the bound its lag at death allows.
 * `lost` = pushes acknowledged to the workers less those the live PS and the replica applied; the
 * pushes truly lost lie between `lost` and `lost + unanswered`. `unanswered`: push requests still
 * on their way when a worker closed its PS client. A worker does that mid-job when a PS is not as
 * the chief published it (here: the killed PS, restarted on its old address with new tables,
 * refuses a retry sent there as TABLE_INCARNATION), then trains again from its last commit. The
 * close cancels the calls in flight, to the live PS too: such a push may have been applied, and
 * counted by the PS and the replica, while its answer was never counted by the worker (issue 17:
 * lost -1 to -6 in about half the runs of the dense-owner case, each an applied push to the live
 * buddy cancelled by the close, seen per push identity).
 */
async function lossAtKill(c: LocalCluster, promoted: Record<string, unknown>, killedAt: number, rate: number): Promise<{ lost: number; unanswered: number; bound: number; lagAtDeathMs: number; reroutes: number }> {
  const { acked, unanswered, reroutes } = workerAcks(c);
  const lost = acked - (await appliedPushes(c)) - Number(promoted.pushesApplied);
  const lagAtDeathMs = killedAt - Number(promoted.appliedAtMs);
  return { lost, unanswered, bound: Math.ceil(rate * Math.max(0, lagAtDeathMs) * 1.5) + 2, lagAtDeathMs, reroutes };
}

/** Pushes per ms applied on the PS labelled `only` as it trains (its own /metrics), the highest of 7 intervals. */
async function pushRate(c: LocalCluster, only: string): Promise<number> {
  const samples: { t: number; n: number }[] = [];
  for (let i = 0; i < 8; i++) {
    samples.push({ t: Date.now(), n: await appliedPushes(c, only) });
    await new Promise((r) => setTimeout(r, 150)); // a sampling interval, not an ordering
  }
  return Math.max(...samples.slice(1).map((s, i) => (s.n - samples[i].n) / Math.max(1, s.t - samples[i].t)));
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
    const rate = await pushRate(c, 'id="ps-1"'); // ps-1's, for the bound below
    const killedAt = Date.now();
    await c.ps[1].kill();
    const promoted = await awaitLogs(c, 'chief', (ls) => ls.find((l) => l.msg === 'PS lost: promoted its buddy\'s replica'), 'the chief to promote the replica');
    const result = await c.waitDone();
    expect(result.samples).to.equal(2 * ROWS);
    await workersExited(c, 2);

    const replicated = Number(promoted.pushesApplied);
    const { lost, unanswered, bound, lagAtDeathMs, reroutes } = await lossAtKill(c, promoted, killedAt, rate);
    const { acked } = workerAcks(c);
    console.log(`      failover: acked ${acked}, replica held ${replicated} of the dead PS's pushes, lost ${lost} (unanswered at a close ${unanswered}), lag at death ${lagAtDeathMs} ms (bound ${bound} pushes at ${(rate * 1000).toFixed(0)}/s), promotion ${promoted.ms} ms, reroutes ${reroutes}, auc ${result.auc!.toFixed(4)} vs clean ${cleanAuc!.toFixed(4)}`);
    expect(promoted.dead).to.equal(1);
    expect(promoted.buddy).to.equal(0);
    expect(replicated, 'the replica held pushes').to.be.greaterThan(0);
    expect(lost + unanswered, 'pushes lost (counting those unanswered at a close as applied)').to.be.at.least(0);
    expect(lost, 'pushes lost, at most what the lag at death allows').to.be.at.most(bound);
    expect(Math.abs(result.auc! - cleanAuc!), 'AUC against the clean run').to.be.at.most(0.005);
    const restarted = logLines(c, 'chief').filter((l) => /restarted empty/.test(String(l.msg)));
    expect(restarted.map((l) => l.msg), 'no PS treated as restarted empty').to.deep.equal([]);
  });

  it('replication on, the dense table\'s owner killed: the promotion installs the dense table, its values survive, no push fails "does not exist" (issue 17 §2)', async function () {
    if (cleanAuc === undefined) this.skip();
    const c = await suite.start({ specPath: specWith(suite.data.dir, 'buddy') });
    await training(c);
    const map = await awaitMap(c, (m) => m.ps.every((p) => p.buddy !== undefined), 'buddies in the shard map');
    const owner = map.ps[map.owner[denseBucket(DENSE_TABLE, map.numBuckets)]];
    const buddy = map.ps.find((p) => p.id === owner.buddy)!;
    const early = await denseOn(owner.addr);
    await training(c, 6_000);
    const rate = await pushRate(c, `id="ps-${owner.id}"`);
    const atKill = await denseOn(owner.addr);
    const killedAt = Date.now();
    await c.ps[owner.id].kill();
    const promoted = await awaitLogs(c, 'chief', (ls) => ls.find((l) => l.msg === 'PS lost: promoted its buddy\'s replica'), 'the chief to promote the replica');
    const promotedDense = await denseOn(buddy.addr);
    const result = await c.waitDone();
    expect(result.samples).to.equal(2 * ROWS);
    await workersExited(c, 2);

    const { lost, unanswered, bound, lagAtDeathMs } = await lossAtKill(c, promoted, killedAt, rate);
    const moved = distance(atKill, early);
    const off = distance(promotedDense, atKill);
    console.log(`      dense owner ps-${owner.id} killed: promoted dense ${promoted.dense}, |promoted - at kill| ${off.toExponential(2)} vs |at kill - earlier| ${moved.toExponential(2)}, lost ${lost} pushes (unanswered at a close ${unanswered}; bound ${bound}, lag at death ${lagAtDeathMs} ms), auc ${result.auc!.toFixed(4)}`);
    expect(promoted.dead).to.equal(owner.id);
    expect(Number(promoted.dense), 'the dense table promoted').to.equal(1);
    expect(moved, 'the dense weights trained between the two reads').to.be.greaterThan(0);
    expect(off, 'the promoted dense weights are those at the kill, less at most the lag\'s pushes: nearer than the earlier weights').to.be.lessThan(moved);
    expect(lost + unanswered, 'pushes lost (counting those unanswered at a close as applied)').to.be.at.least(0);
    expect(lost, 'pushes lost, at most what the lag at death allows').to.be.at.most(bound);
    const missing = ['worker', 'chief', 'ps'].flatMap((role) => logLines(c, role)).filter((l) => /does not exist/.test(JSON.stringify(l)));
    expect(missing.map((l) => l.msg), 'no "does not exist"').to.deep.equal([]);
    expect(Math.abs(result.auc! - cleanAuc!), 'AUC against the clean run').to.be.at.most(0.005);
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
