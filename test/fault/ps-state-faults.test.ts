/**
 * Issue 23, items 2 and 3, on a whole local cluster (real etcd, PS, chiefs and workers):
 *
 * - `DropTable emb` on one PS mid-job: the workers do not create it again; the chief restores that
 *   PS's buckets from the latest checkpoint, logs and counts it, and the job completes with every
 *   row counted once. With no checkpoint to restore from, the job fails with that reason.
 * - `SetShardMap(version + 1000)` on one PS mid-job: the chief publishes the map again above it
 *   and the job completes; a version nothing can be published above fails the job, saying so.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { ClusterFailedError, LocalCluster, LocalClusterOptions } from '../../src/local/local-cluster';
import { PsConnection } from '../../src/wire/ps-connection';
import { awaitSnapshot, clusterSuite, shardLedger, snapshotOf, SYNTHETIC_SPEC } from '../helpers/cluster';

const ROWS = 40_000;

function logsOf(runDir: string, role: 'chief' | 'worker'): string {
  return fs.readdirSync(runDir).filter((f) => f.startsWith(`${role}-`) && f.endsWith('.log')).map((f) => fs.readFileSync(path.join(runDir, f), 'utf8')).join('\n');
}

describe('a PS changed under a running job (issue 23, items 2-3; real processes)', function () {
  this.timeout(240_000);
  const suite = clusterSuite(ROWS, (seq) => ({
    job: `ps-state-${seq}`, specPath: SYNTHETIC_SPEC, ps: 2, workers: 2, data: suite.data.train, eval: suite.data.evalFile,
    epochs: 1, shards: 4, leaseTtlS: 2, commitEveryMs: 100, backend: 'wasm',
  }));
  let conn: PsConnection | undefined;
  afterEach(() => {
    conn?.close();
    conn = undefined;
  });
  const start = (extra: Partial<LocalClusterOptions> = {}) => suite.start(extra);

  /** An admin connection to PS `i` of the cluster, as any gRPC client (an operator's tool) would open. */
  function admin(c: LocalCluster, i: number): PsConnection {
    conn = new PsConnection({ addr: c.ps[i].addr, maxMessageBytes: 1 << 20 });
    return conn;
  }

  const training = (c: LocalCluster) => awaitSnapshot(c, (s) => ([...s.progress.values()].some((p) => p.rows > 0) ? true : undefined), 'training to start');

  async function expectExactlyOnce(c: LocalCluster): Promise<void> {
    for (const s of await shardLedger(await snapshotOf(c))) {
      expect(s.done, `shard ${s.shard} done`).to.equal(true);
      expect(s.committed, `rows committed for shard ${s.shard}`).to.equal(s.actual);
    }
  }

  it('a table dropped on one PS mid-job is restored from the latest checkpoint; no worker recreates it', async () => {
    const c = await start({ checkpointDir: path.join(suite.data.dir, 'ckpt-drop'), checkpointEvery: 1 });
    await awaitSnapshot(c, () => (fs.readdirSync(c.opts.checkpointDir!).some((d) => fs.existsSync(path.join(c.opts.checkpointDir!, d, 'manifest.json'))) ? true : undefined), 'a first checkpoint');
    const { dropped } = await admin(c, 1).adminCall<{ dropped: boolean }>('DropTable', { name: 'emb' }, 5_000);
    expect(dropped).to.equal(true);
    const result = await c.waitDone();
    expect(result.samples).to.equal(ROWS);
    await expectExactlyOnce(c);
    const chief = logsOf(c.opts.runDir, 'chief');
    expect(chief).to.match(/tables were dropped under the running job \(ps 1: table \\"emb\\" was dropped.*restored those PS's buckets from the latest checkpoint/);
    const workers = logsOf(c.opts.runDir, 'worker');
    expect(workers, 'a worker that met the dropped table').to.contain('stopped pushing to it and reported it to the chief');
    // Created twice on ps-1: at the start, and by the chief's repair; never by a worker.
    const created = fs.readFileSync(path.join(c.opts.runDir, 'ps-1.log'), 'utf8').split('\n').filter((l) => /"table":"emb".*"msg":"table created"/.test(l));
    expect(created.length, created.join('\n')).to.equal(2);
    // The table the PS holds now is the one the chief created and recorded, not a silent stand-in.
    const snap = await snapshotOf(c);
    const stats = await admin(c, 1).adminCall<{ tables: { name: string; incarnation: number; rows: number }[] }>('Stats', {}, 5_000);
    const emb = stats.tables.find((t) => t.name === 'emb')!;
    expect(emb.incarnation).to.equal(snap.tables!.ps.find((p) => p.id === 1)!.tables.emb);
    expect(emb.rows).to.be.greaterThan(0);
  });

  it('a table dropped with no checkpoint to restore it from fails the job, saying so', async () => {
    const c = await start();
    await training(c);
    await admin(c, 1).adminCall('DropTable', { name: 'emb' }, 5_000);
    const err = await c.waitDone().then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(ClusterFailedError);
    expect((err as ClusterFailedError).exitCode).to.equal(1);
    expect((err as Error).message).to.match(/failed: tables were dropped under the running job \(ps 1: table "emb" was dropped\) and there is no checkpoint to restore their rows from.*\[TESSERA_ERR_TABLE_INCARNATION\]/);
  });

  it('a shard-map version from the future on one PS: the chief publishes the map again above it and the job completes', async () => {
    const c = await start();
    await training(c);
    const before = (await snapshotOf(c)).tables!.mapVersion;
    const { previousVersion } = await admin(c, 0).adminCall<{ previousVersion: number }>('SetShardMap',
      { version: before + 1000, psIndex: 0, numBuckets: 4096, ownedBuckets: Buffer.alloc(0) }, 5_000);
    expect(previousVersion).to.equal(before);
    const result = await c.waitDone();
    expect(result.samples).to.equal(ROWS);
    await expectExactlyOnce(c);
    expect(logsOf(c.opts.runDir, 'chief')).to.contain(`serves a shard-map version the chief did not publish; published the map again as version ${before + 1001}`);
    expect((await snapshotOf(c)).tables!.mapVersion).to.equal(before + 1001);
  });

  it('a shard-map version nothing can be published above fails the job, saying so', async () => {
    const c = await start();
    await training(c);
    await admin(c, 0).adminCall('SetShardMap', { version: Number.MAX_SAFE_INTEGER, psIndex: 0, numBuckets: 4096, ownedBuckets: Buffer.alloc(0) }, 5_000);
    const err = await c.waitDone().then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(ClusterFailedError);
    expect((err as Error).message).to.match(/ps 0 at version 9007199254740991 serves a shard-map version above the published \d+, and no higher version can be published/);
  });
});
