/**
 * Issue 17, bit-exact resharding on a whole local cluster (real etcd, PS, chief and worker, each
 * its own process): a deterministic synchronous job (one worker, `max_inflight_pushes: 0`) runs
 * once on 2 PS, and once while the PS count goes 2 -> 3 -> 2 (a third PS joins mid-job, then
 * `tessera ps drain ps-2` moves its buckets back). The final checkpoints of the two runs hold the
 * same rows with the same weights and optimizer state, bit for bit, and the same dense table:
 * moving a bucket copies rows exactly, and every push lands once, on whichever PS owns its rows.
 * The same again with feature admission and TTL eviction on the table: the admission counts of ids
 * not yet admitted and each row's eviction metadata move with the buckets (migrated-meta.ts);
 * without that, ids in moved buckets were admitted later and rows expired later than on 2 PS.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { parse, stringify } from 'yaml';
import { latestCheckpointId } from '../../src/checkpoint/catalog';
import type { LocalCluster } from '../../src/local/local-cluster';
import { checkpointRows } from '../helpers/checkpoint';
import { awaitSnapshot, clusterSuite, logLines, shardLedger, snapshotOf, SYNTHETIC_SPEC } from '../helpers/cluster';
import { awaitMap } from '../helpers/migration';
import { lastJson, runTessera } from '../helpers/tessera';

// The join and the drain (four migrations) must end while the job still trains: at 40,000 rows
// the drain ended in eval in 2 of 5 runs on a shared machine at load 11-17.
const ROWS = 60_000;

/** The final checkpoint's rows once the job is done, after checking every row was counted once. */
async function finalRows(c: LocalCluster): Promise<Map<string, string>> {
  const result = await c.waitDone();
  expect(result.samples).to.equal(2 * ROWS);
  for (const s of await shardLedger(await snapshotOf(c))) expect(s.committed, `rows committed for shard ${s.shard}`).to.equal(s.actual);
  const root = c.opts.checkpointDir!;
  return checkpointRows(root, await latestCheckpointId(root));
}

/** Keys whose values differ between `a` and `b` (or are missing from one), at most `n`. */
function differences(a: Map<string, string>, b: Map<string, string>, n = 5): string[] {
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys].filter((k) => a.get(k) !== b.get(k)).slice(0, n);
}

describe('resharding 2 -> 3 -> 2 PS under a synchronous job is bit-exact (issue 17; real processes)', function () {
  this.timeout(600_000);
  const suite = clusterSuite(ROWS, (seq) => ({
    job: `bitexact-${seq}`, specPath: SYNTHETIC_SPEC, ps: 2, workers: 1, data: suite.data.train,
    epochs: 2, shards: 4, leaseTtlS: 2, commitEveryMs: 100, backend: 'wasm',
  }));

  /** Runs the job plain and resharded with `spec` (default: the synthetic spec) and compares them. */
  async function compare(name: string, specPath?: string): Promise<void> {
    const plain = await suite.start({ checkpointDir: path.join(suite.data.dir, `ckpt-plain-${name}`), ...(specPath ? { specPath } : {}) });
    const reference = await finalRows(plain);
    await plain.stop();
    expect(reference.size, 'rows in the reference checkpoint').to.be.greaterThan(10_000);

    const c = await suite.start({ checkpointDir: path.join(suite.data.dir, `ckpt-reshard-${name}`), ...(specPath ? { specPath } : {}) });
    await awaitSnapshot(c, (s) => ([...s.progress.values()].some((p) => p.rows > 0) ? true : undefined), 'training to start');
    await c.startPs(2);
    await awaitMap(c, (m) => m.ps.length === 3 && m.owner.some((o) => m.ps[o].id === 2), 'ps-2 owning buckets');
    const drain = await runTessera(['ps', 'drain', 'ps-2', '--etcd', c.etcdUrl, '--job', c.opts.job, '--wait', '--json']);
    expect(drain.code, drain.stderr).to.equal(0);
    expect(lastJson(drain.stdout)).to.deep.include({ ps: 'ps-2', done: true });
    const mid = await snapshotOf(c);
    expect(mid.state?.phase, 'the job was still training when the drain finished (make ROWS larger if not)').to.equal('train');
    expect((await awaitMap(c, () => true, 'the shard map')).ps.map((p) => p.id)).to.deep.equal([0, 1]);

    const resharded = await finalRows(c);
    const moved = logLines(c, 'chief').filter((l) => l.msg === 'migration committed');
    expect(moved.length, 'migrations committed: the join, then the drain in two steps').to.be.at.least(3);
    expect(differences(reference, resharded), 'rows that differ').to.deep.equal([]);
    expect(resharded.size).to.equal(reference.size);
  }

  it('the final tables and optimizer state equal, bit for bit, those of the same job never resharded', async () => {
    await compare('plain');
  });

  // Issue 17. Four causes of divergence at a migration were found by this variant, each with a
  // unit test of its own: a fenced counting pull retried after the push behind it
  // (counting-pulls.ts); the ttl_steps clock ticking twice for a step split by the fence
  // (row-eviction.ts counts a step once per PS); a row created between a round's cut and its
  // metadata read, whose metadata never went (migrated-meta.ts: the next round starts from the
  // cut); and a staged row whose tick ran a step or two ahead of the target's clock, read as
  // expired by the target's TTL sweep (row-eviction.ts: ages from 2^30 up are ahead). ADR 0023,
  // "A round's metadata starts from the previous round's cut".
  it('with admission and TTL eviction too: admission counts and eviction metadata move with the buckets (issue 17)', async () => {
    const spec = parse(fs.readFileSync(SYNTHETIC_SPEC, 'utf8'));
    // A wide sketch, so merging two PS's counters raises no id's estimate by a collision here.
    spec.features.tables[0].admission = { min_count: 2, sketch_width: 1 << 22 };
    spec.features.tables[0].eviction = { ttl_steps: 40 };
    const specPath = path.join(suite.data.dir, 'admission-eviction.yaml');
    fs.writeFileSync(specPath, stringify(spec));
    await compare('memory', specPath);
  });
});
