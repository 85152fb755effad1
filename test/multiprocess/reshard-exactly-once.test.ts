/**
 * Issue 17, async resharding on a whole local cluster (real etcd, PS, chief and workers, each its
 * own process): 2 workers train while PS 2 and 3 join (2 -> 4 PS: two migration steps, each a
 * new shard map). Every map change makes the PS refuse requests routed with the old map; the
 * workers' clients re-send only the refused slices by the new map. So no worker reports a fault
 * or retrains from its committed position, every push the workers' clients acknowledged was
 * applied exactly once on the PS side (applied = ok push requests less retries acknowledged
 * again), and every row is counted once. The same job run without resharding (same data, spec
 * and seeds) reaches an AUC within 0.005 of the resharded run (issue 17 §3).
 */
import { expect } from 'chai';
import { awaitSnapshot, clusterSuite, logLines, shardLedger, snapshotOf, SYNTHETIC_SPEC } from '../helpers/cluster';
import { awaitMap, pushTally } from '../helpers/migration';

// Enough rows that pushes are still in flight when the two PS join (training got faster).
const ROWS = 120_000;

describe('async resharding 2 -> 4 PS applies every acknowledged push exactly once (issue 17; real processes)', function () {
  this.timeout(300_000);
  let reshardedAuc: number | undefined;
  const suite = clusterSuite(ROWS, (seq) => ({
    job: `exact-${seq}`, specPath: SYNTHETIC_SPEC, ps: 2, workers: 2, data: suite.data.train, eval: suite.data.evalFile,
    epochs: 2, shards: 4, leaseTtlS: 2, commitEveryMs: 100, backend: 'wasm',
  }));

  it('two PS join mid-job: no worker fault, PS-applied pushes equal the workers\' acknowledged pushes, every row counted once', async () => {
    const c = await suite.start();
    await awaitSnapshot(c, (s) => ([...s.progress.values()].some((p) => p.rows > 0) ? true : undefined), 'training to start');
    await Promise.all([c.startPs(2), c.startPs(3)]);
    const v4 = await awaitMap(c, (m) => m.ps.length === 4 && new Set(m.owner).size === 4, 'PS 2 and 3 owning buckets');
    const result = await c.waitDone();
    expect(result.samples).to.equal(2 * ROWS);
    for (const s of await shardLedger(await snapshotOf(c))) {
      expect(s.done, `shard ${s.shard} done`).to.equal(true);
      expect(s.committed, `rows committed for shard ${s.shard}`).to.equal(s.actual);
    }
    const chief = logLines(c, 'chief').filter((l) => l.msg === 'migration committed');
    expect(chief.length, 'migration steps committed').to.be.at.least(2);

    const tally = await pushTally(c, 2);
    expect(tally.faults, 'worker faults or retrains').to.deep.equal([]);
    expect(tally.mapVersion, 'a worker client routed by the final map').to.be.at.least(v4.version);
    expect(tally.reroutes, 'requests re-sent by a newer map').to.be.greaterThan(0);
    expect(tally.acked, 'pushes the workers saw acknowledged').to.be.greaterThan(0);
    expect(tally.applied, 'pushes the PS applied').to.equal(tally.acked);
    reshardedAuc = result.auc ?? undefined;
  });

  it('the same job without resharding reaches an AUC within 0.005 of the resharded run', async function () {
    if (reshardedAuc === undefined) this.skip();
    const result = await (await suite.start()).waitDone();
    expect(result.samples).to.equal(2 * ROWS);
    console.log(`      auc: resharded 2 -> 4 ${reshardedAuc!.toFixed(4)}, 2 PS throughout ${result.auc!.toFixed(4)}`);
    expect(Math.abs(result.auc! - reshardedAuc!), 'AUC against the run without resharding').to.be.at.most(0.005);
  });
});
