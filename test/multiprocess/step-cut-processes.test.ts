/**
 * Issue 15 (ADR 0040, "Tests" item 5), through real processes: two `tessera ps` processes, two
 * worker processes pushing training steps continuously through the real data client (step
 * numbers, parts, positions), real etcd, and the chief's Checkpointer cutting at per-worker steps
 * while they push. Each checkpoint, full then incremental, holds exactly the pushes of each
 * worker's steps <= s_w (SGD at lr 1 with gradient 1: a row's weight is its start value minus
 * the steps applied to it), and the positions it records are those of step s_w.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readManifest } from '../../src/checkpoint/manifest';
import { psCheckpointBackend } from '../../src/chief/checkpoint-backend';
import { Checkpointer, checkpointJobOf } from '../../src/chief/checkpointer';
import { PsClient } from '../../src/client/ps-client';
import { silentLogger } from '../../src/common/logger';
import { EtcdJobStore } from '../../src/control/etcd-job-store';
import type { JobState } from '../../src/control/job-types';
import { spawnPs, type PsProcess } from '../../src/local/ps-process';
import { EtcdMembership } from '../../src/membership/etcd-membership';
import { LeaderElection } from '../../src/membership/leader';
import { createEtcdClient } from '../../src/runtime/etcd-client';
import { ownerOf, planShardMap } from '../../src/sharding/shard-map';
import { checkpointRows, tempRoot } from '../helpers/checkpoint';
import { etcdForSuite } from '../helpers/etcd';
import { spawnNode, type Spawned } from '../helpers/spawn';
import { PUSHER_DIM } from '../helpers/step-pusher-child';

const CHILD = path.resolve(__dirname, '../helpers/step-pusher-child.js');
const JOB = 'cut-procs';
const state: JobState = {
  epoch: 0, epochs: 1, phase: 'train', samplesBefore: 0, stepsBefore: 0, trainSecondsBefore: 0, epochStartedAt: new Date().toISOString(), evals: [],
  shards: [0, 1].map((id) => ({ id, path: '/d', start: 0, end: 1_000_000, gzip: false })),
};

/** The step a pusher has printed last. */
function lastStep(w: Spawned): number {
  for (let i = w.lines.length - 1; i >= 0; i--) {
    const m = /^step (\d+)$/.exec(w.lines[i]);
    if (m) return Number(m[1]);
  }
  return 0;
}

describe('a cut at per-worker steps while 2 worker processes push continuously (real processes; issue 15)', function () {
  this.timeout(120_000);
  const etcd = etcdForSuite();
  let root = '';
  const ps: PsProcess[] = [];
  const workers: Spawned[] = [];
  const closers: (() => Promise<unknown> | void)[] = [];
  afterEach(async () => {
    await Promise.allSettled(workers.splice(0).map((w) => w.kill('SIGKILL')));
    for (const c of closers.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
    await Promise.allSettled(ps.splice(0).map((p) => p.kill()));
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it('each checkpoint, full then incremental, holds exactly the pushes of steps <= s_w, and its positions are those of s_w', async () => {
    root = tempRoot();
    ps.push(...await Promise.all([0, 1].map(() => spawnPs({ args: ['--checkpoint-root', root] }))));
    const map = planShardMap(ps.map((p, id) => ({ id, addr: p.addr })));
    const log = silentLogger();
    const client = new PsClient({ shardMap: map, logger: log, maxInflightPushes: 0 });
    closers.push(() => client.close());
    await client.admin.installShardMap();
    await client.admin.createTable({ name: 'emb', kind: 'embedding', dim: PUSHER_DIM, optimizer: { kind: 'sgd', lr: 1 }, seed: 5 });
    // rows[w][p]: worker w's row on PS p.
    const used = new Set<number>();
    const rowOn = (p: number): number => { for (let lo = 1; ; lo++) if (!used.has(lo) && ownerOf(map, lo, 0) === p) { used.add(lo); return lo; } };
    const rows = [0, 1].map(() => [0, 1].map(rowOn));
    const start = await Promise.all(rows.map((r) => Promise.all(r.map(async (lo) => [...await client.data.pull('emb', new Uint32Array([lo, 0]), PUSHER_DIM, { readOnly: true })]))));

    const ec = createEtcdClient(etcd.url);
    closers.push(() => ec.close());
    const membership = new EtcdMembership({ client: ec, job: JOB, logger: log });
    closers.push(() => membership.close());
    const handle = await new LeaderElection({ client: ec, job: JOB, logger: log }).campaign('chief', 'c');
    closers.push(() => handle.resign());
    const store = new EtcdJobStore({ client: ec, job: JOB, logger: log, leaderKey: await handle.key() });
    await store.createState(state);
    const ck = new Checkpointer({ store, membership, backend: await psCheckpointBackend(() => client, root, log), root, spec: { yaml: 'x', fingerprint: 'f' }, logger: log });

    for (const w of [0, 1]) workers.push(spawnNode(CHILD, [etcd.url, JOB, `w${w}`, String(w), ps.map((p) => p.addr).join(','), rows[w].join(',')]));
    for (const [w, child] of workers.entries()) {
      const incarnation = (await child.waitForLine(/^registered /, 30_000)).split(' ')[1];
      await store.assign({ shard: w, epoch: 0, worker: `w${w}`, incarnation });
    }
    for (const cut of ['full', 'incremental']) {
      const before = workers.map(lastStep);
      await Promise.all(workers.map((child, w) => child.waitForLine(new RegExp(`^step ${before[w] + 5}$`), 30_000)));
      const out = await ck.take();
      expect(out.kind).to.equal(cut);
      // Both keep pushing through and after the cut: neither stopped for it.
      const atCut = workers.map(lastStep);
      await Promise.all(workers.map((child, w) => child.waitForLine(new RegExp(`^step ${atCut[w] + 3}$`), 30_000)));

      const job = checkpointJobOf(await readManifest(out.path));
      const held = await checkpointRows(root, out.id);
      for (const w of [0, 1]) {
        const p = job.progress.find((q) => q.shard === w)!;
        const sw = p.steps;
        expect(sw, `worker ${w} is in the ${cut} cut`).to.be.greaterThan(before[w]);
        expect(p, `worker ${w}: the positions of step ${sw}`).to.include({ worker: `w${w}`, next: 100 * sw, rows: 10 * sw });
        for (const q of [0, 1]) {
          const bits = held.get(`emb ${rows[w][q]}:0`)!.split('|')[0];
          const weight = [...new Float32Array(Uint8Array.from(Buffer.from(bits, 'hex')).buffer)];
          const expected = start[w][q].map((v) => { for (let i = 0; i < sw; i++) v = Math.fround(v - 1); return v; });
          expect(weight, `worker ${w}'s row on PS ${q} in the ${cut} cut: exactly steps 1..${sw}`).to.deep.equal(expected);
        }
      }
    }
  });
});
