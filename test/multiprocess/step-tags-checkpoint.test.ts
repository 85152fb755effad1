/**
 * Issue 15 (ADR 0040), through real processes: two `tessera worker` processes tag every push
 * with their steps and positions, and a cut at per-worker steps taken over the real PS while
 * they train (besides the chief's own epoch-end cuts) is consistent with what the
 * workers commit: it names both workers' live incarnations, each shard's position after s_w lies
 * between the commits before and after the cut, and the job still trains every row exactly once.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { newCheckpointId } from '../../src/checkpoint/checkpoint-id';
import { PsClient } from '../../src/client/ps-client';
import { cutAtSteps } from '../../src/client/step-cut';
import { ERROR_CODES, TesseraError } from '../../src/common/errors';
import { silentLogger } from '../../src/common/logger';
import { decodeStepPositions } from '../../src/control/step-positions';
import { LocalCluster } from '../../src/local/local-cluster';
import { ShardMapStore } from '../../src/membership/shard-map-store';
import { createEtcdClient } from '../../src/runtime/etcd-client';
import { requireEtcd } from '../helpers/etcd';
import { awaitSnapshot, syntheticData, SYNTHETIC_SPEC } from '../helpers/cluster';

const ROWS = 30_000;

describe('push step tags from real worker processes (issue 15)', function () {
  this.timeout(240_000);
  let data: { dir: string; train: string; evalFile: string };
  let cluster: LocalCluster | undefined;
  before(async function () {
    requireEtcd(this);
    data = await syntheticData(ROWS);
  });
  after(async () => {
    await cluster?.stop();
    if (data) fs.rmSync(data.dir, { recursive: true, force: true });
  });

  it('a cut at per-worker steps over the PS, taken while two worker processes push, matches their commits', async () => {
    const runDir = path.join(data.dir, 'run');
    const root = path.join(data.dir, 'ckpt');
    fs.mkdirSync(runDir, { recursive: true });
    fs.mkdirSync(root, { recursive: true });
    cluster = await LocalCluster.start({
      runDir, job: 'tags', specPath: SYNTHETIC_SPEC, ps: 2, workers: 2, data: data.train, eval: data.evalFile, epochs: 2, shards: 6, backend: 'wasm', checkpointDir: root,
    });
    const c = cluster;
    // Both workers have trained and committed.
    const before = await awaitSnapshot(c, (s) => (new Set([...s.progress.values()].filter((p) => p.rows > 0).map((p) => p.worker)).size >= 2 ? s : undefined), 'both workers committing', 120_000);
    const etcd = createEtcdClient(c.etcdUrl);
    const map = await new ShardMapStore({ client: etcd, job: 'tags', logger: silentLogger() }).get();
    const ps = new PsClient({ shardMap: map!, logger: silentLogger() });
    try {
      const id = newCheckpointId(99);
      // The chief's own cut may be holding the PS (an epoch end): a refused round 1 is tried again
      // (each try is a round of RPCs; the chief's hold lasts a few of them).
      const take = (n: number): ReturnType<typeof cutAtSteps> => cutAtSteps(ps.checkpoints.stepCutParties(id, root, 'full'), `e2e-${n}`, { holdMs: 10_000, waitMs: 10_000 })
        .catch((err: unknown) => (n < 100 && err instanceof TesseraError && err.code === ERROR_CODES.UNAVAILABLE && /is holding pushes/.test(err.message) ? take(n + 1) : Promise.reject(err)));
      const cut = await take(0);
      await ps.checkpoints.awaitSnapshot(id, 60_000);
      const decoded = [...cut.positions.values()].map((b) => decodeStepPositions(b)!);
      expect(decoded.every((d) => d !== undefined), 'every worker step id carries a worker\'s positions').to.equal(true);
      expect(new Set(decoded.map((d) => d.worker)).size, 'both workers are in the cut').to.equal(2);
      // Commits trail the pushes (every commit interval): wait until each shard's commit reaches the cut.
      const all = decoded.flatMap((d) => d.shards);
      const after = await awaitSnapshot(c, (s) => (all.every((p) => { const q = s.progress.get(p.shard); return q && (q.epoch > p.epoch || q.rows >= p.rows); }) ? s : undefined), 'the commits to reach the cut');
      for (const d of decoded) {
        const mine = [...after.assignments.values(), ...before.assignments.values()].filter((a) => a.worker === d.worker);
        expect(mine.map((a) => a.incarnation), `${d.worker} pushes as a live incarnation`).to.include(d.incarnation);
        for (const s of d.shards) {
          const was = before.progress.get(s.shard);
          if (was && was.epoch === s.epoch) expect(s.rows, `shard ${s.shard}: the cut is at or past the commit before it`).to.be.at.least(was.rows);
          expect(s.rows).to.be.greaterThan(0);
        }
      }
    } finally {
      ps.close();
      etcd.close();
    }
    const r = await c.waitDone();
    expect(r.samples, 'every row trained once per epoch').to.equal(2 * ROWS);
  });
});
