/**
 * Issue 15 (pause per delta <= 50 ms): the chief's checkpoint is a cut at per-worker steps
 * (ADR 0040) over real etcd, real gRPC PS and real checkpoint files, taken while workers keep
 * pushing. No worker stops or acknowledges anything: the manifest's data positions are those
 * the counted workers' pushes carried at s_w, laid over the committed records, and the rows in
 * the checkpoint are exactly those steps. Dead workers and renewed step ids are not waited for;
 * a live worker's missing step, or the PS changing between the rounds, abandons the cut with
 * every hold released; a hold left by a chief that died between the rounds ends at its deadline.
 */
import { expect } from 'chai';
import type { Etcd3 } from 'etcd3';
import { readManifest } from '../../src/checkpoint/manifest';
import { psCheckpointBackend } from '../../src/chief/checkpoint-backend';
import { Checkpointer, checkpointJobOf } from '../../src/chief/checkpointer';
import { PsFleet } from '../../src/client/ps-fleet';
import { ERROR_CODES, TesseraError } from '../../src/common/errors';
import { silentLogger } from '../../src/common/logger';
import { EtcdJobStore } from '../../src/control/etcd-job-store';
import type { JobState, Progress } from '../../src/control/job-types';
import { StepPositions } from '../../src/control/step-positions';
import { EtcdMembership } from '../../src/membership/etcd-membership';
import type { Registration } from '../../src/membership/membership';
import { LeaderElection } from '../../src/membership/leader';
import type { TableSpec } from '../../src/ps/store/table-spec';
import { ownerOf } from '../../src/sharding/shard-map';
import { Encoding } from '../../src/wire/data-plane-codec';
import { asBytes } from '../../src/wire/key-block';
import { checkpointRows, ckptCluster, ckptPerTest, type CkptCluster } from '../helpers/checkpoint';
import { etcdClientPerTest } from '../helpers/etcd';

const DIM = 4;
const TABLES: TableSpec[] = [{ name: 'emb', kind: 'embedding', dim: DIM, optimizer: { kind: 'sgd', lr: 1 }, seed: 3 }];
const state: JobState = {
  epoch: 0, epochs: 1, phase: 'train', samplesBefore: 0, stepsBefore: 0, trainSecondsBefore: 0, epochStartedAt: new Date().toISOString(), evals: [],
  shards: [0, 1, 2].map((id) => ({ id, path: '/d', start: 0, end: 1_000_000, gzip: false })),
};
/** Rows and steps a worker's step moves its shard by. */
const ROWS_PER_STEP = 10;

/** A worker as the PS see it: its step id, one row on each PS, its positions and its registration. */
interface Pusher { client: bigint; rows: number[]; positions: StepPositions; reg: Registration; shard: number; steps: number }

/** The etcd side (registered workers, an elected chief's store) and two real PS. */
interface Fixture {
  c: CkptCluster;
  fleet: PsFleet;
  membership: EtcdMembership;
  store: EtcdJobStore;
  regs: Registration[];
  ck: Checkpointer;
  close(): Promise<void>;
}

async function fixture(client: Etcd3, job: string, c: CkptCluster, root: string, opts: { cutWaitMs?: number } = {}): Promise<Fixture> {
  const log = silentLogger();
  const membership = new EtcdMembership({ client, job, logger: log });
  const regs = await Promise.all(['w0', 'w1', 'w2'].map((id) => membership.register('worker', id, `${id}:1`)));
  const handle = await new LeaderElection({ client, job, logger: log }).campaign('chief', 'c');
  const store = new EtcdJobStore({ client, job, logger: log, leaderKey: await handle.key() });
  await store.createState(state);
  for (const [i, r] of regs.entries()) await store.assign({ shard: i, epoch: 0, worker: r.id, incarnation: r.incarnation });
  const backend = await psCheckpointBackend(() => c.client, root, log);
  const ck = new Checkpointer({ store, membership, backend, root, spec: { yaml: 'x', fingerprint: 'f' }, logger: log, cutWaitMs: opts.cutWaitMs ?? 10_000 });
  const fleet = new PsFleet({ shardMap: c.map, logger: log });
  return {
    c, fleet, membership, store, regs, ck,
    close: async () => {
      fleet.close();
      await handle.resign();
      await membership.close();
    },
  };
}

/** The first id (lo, hi = 0) not in `used` whose bucket PS `p` owns. */
function idOwnedBy(map: CkptCluster['map'], p: number, used: Set<number>): number {
  for (let lo = 1; ; lo++) if (!used.has(lo) && ownerOf(map, lo, 0) === p) { used.add(lo); return lo; }
}

function pusher(f: Fixture, w: number, client: bigint, used: Set<number>): Pusher {
  const reg = f.regs[w];
  return { client, rows: [0, 1].map((p) => idOwnedBy(f.c.map, p, used)), positions: new StepPositions({ worker: reg.id, incarnation: () => reg.incarnation }), reg, shard: w, steps: 0 };
}

/** Sends step `step`'s request to PS `p` (gradient 1 on the worker's row there), `parts` counted for that PS. */
async function pushPart(f: Fixture, w: Pusher, p: number, step: number, parts = 1): Promise<void> {
  const res = await f.fleet.conns[p].push({
    table: 'emb', shardMapVersion: f.c.map.version, ids: asBytes(new Uint32Array([w.rows[p], 0])),
    grads: asBytes(new Float32Array(DIM).fill(1)), encoding: Encoding.F32, requestId: 0,
    stepTag: { client: w.client, step, parts, ackedThrough: step - 1, positions: w.positions.encode() },
  }, 30_000);
  if (res.error) throw new Error(res.error.message);
}

/** One training step of `w`: positions set before the push, both PS pushed, then (every 3rd step) committed. */
async function trainStep(f: Fixture, w: Pusher): Promise<void> {
  const step = w.steps + 1;
  const at: Progress = { shard: w.shard, epoch: 0, next: step * 100, rows: step * ROWS_PER_STEP, steps: step, done: false, loss: null, worker: w.reg.id };
  w.positions.set({ shard: at.shard, epoch: 0, next: at.next, rows: at.rows, steps: at.steps });
  await Promise.all([0, 1].map((p) => pushPart(f, w, p, step)));
  w.steps = step;
  if (step % 3 === 0) await f.store.commitProgress({ shard: w.shard, epoch: 0, worker: w.reg.id, incarnation: w.reg.incarnation }, at);
}

/** Runs both pushers until `stop()`; resolves when both stopped. */
function trainUntil(f: Fixture, ws: Pusher[], stopped: () => boolean): Promise<void[]> {
  return Promise.all(ws.map(async (w) => { while (!stopped()) await trainStep(f, w); }));
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise(setImmediate);
}

/** The weight of row `lo` in a checkpoint's rows (SGD, gradient 1, lr 1: start value minus steps). */
function weight(rows: Map<string, string>, lo: number): number[] {
  const hex = rows.get(`emb ${lo}:0`)!.split('|')[0];
  return [...new Float32Array(Uint8Array.from(Buffer.from(hex, 'hex')).buffer)];
}

function afterSteps(start: number[], n: number): number[] {
  return start.map((v) => { for (let i = 0; i < n; i++) v = Math.fround(v - 1); return v; });
}

/** What `p` rejected with (null: it resolved). */
function failure(p: Promise<unknown>): Promise<TesseraError | null> {
  return p.then(() => null, (e: unknown) => e as TesseraError);
}

/** The position checkpoint `path` records for shard `shard`. */
async function recorded(path: string, shard: number): Promise<Progress | undefined> {
  return checkpointJobOf(await readManifest(path)).progress.find((q) => q.shard === shard);
}

describe('the checkpoint cut at per-worker steps, while workers keep pushing (real etcd and PS; issue 15)', function () {
  this.timeout(60_000);
  const etcd = etcdClientPerTest();
  const suite = ckptPerTest();

  /** A fixture on two real PS whose worker w0 has trained one step. */
  async function oneStepIn(job: string): Promise<{ f: Fixture; w: Pusher }> {
    const c = suite.track(await ckptCluster(2, TABLES));
    const f = await fixture(etcd.client, job, c, suite.root);
    const w = pusher(f, 0, 1n << 48n, new Set());
    await trainStep(f, w);
    return { f, w };
  }

  it('records the positions at s_w over the committed records and holds exactly steps 1..s_w; a worker with no pushes keeps its committed record', async () => {
    const c = suite.track(await ckptCluster(2, TABLES));
    const f = await fixture(etcd.client, 'cut-1', c, suite.root);
    const used = new Set<number>();
    const ws = [pusher(f, 0, 1n << 48n, used), pusher(f, 1, 2n << 48n, used)];
    // w2 trains shard 2 but has pushed nothing since it started: its committed record is exact.
    const idle: Progress = { shard: 2, epoch: 0, next: 700, rows: 7, steps: 1, done: false, loss: 0.5, worker: 'w2' };
    await f.store.commitProgress({ shard: 2, epoch: 0, worker: 'w2', incarnation: f.regs[2].incarnation }, idle);
    const start = await Promise.all(ws.map((w) => Promise.all([0, 1].map(async (p) => [...await c.client.data.pull('emb', new Uint32Array([w.rows[p], 0]), DIM, { readOnly: true })]))));
    let stop = false;
    const training = trainUntil(f, ws, () => stop);
    try {
      await until(() => ws.every((w) => w.steps >= 5));
      const out = await f.ck.take();
      const moreAfter = ws.map((w) => w.steps);
      await until(() => ws.every((w, i) => w.steps >= moreAfter[i] + 3));
      stop = true;
      await training;
      const job = checkpointJobOf(await readManifest(out.path));
      const rows = await checkpointRows(suite.root, out.id);
      for (const [i, w] of ws.entries()) {
        const p = job.progress.find((q) => q.shard === w.shard)!;
        const sw = p.steps;
        expect(sw, `worker ${i} is in the cut`).to.be.greaterThan(0);
        expect(p).to.include({ rows: sw * ROWS_PER_STEP, next: sw * 100, worker: w.reg.id });
        for (const ps of [0, 1]) expect(weight(rows, w.rows[ps]), `worker ${i} on PS ${ps}: the cut holds steps 1..${sw}`).to.deep.equal(afterSteps(start[i][ps], sw));
      }
      expect(job.progress.find((q) => q.shard === 2)).to.deep.equal(idle);
      expect(job.step).to.equal(job.progress.reduce((n, q) => n + q.steps, 0));
      expect((await f.store.checkpointPointer())?.id).to.equal(out.id);
    } finally {
      stop = true;
      await training.catch(() => undefined);
      await f.close();
    }
  });

  it('waits neither for a dead worker\'s step nor for a step id its worker renewed, and keeps their committed records', async () => {
    const c = suite.track(await ckptCluster(2, TABLES));
    const f = await fixture(etcd.client, 'cut-dead', c, suite.root, { cutWaitMs: 2_000 });
    const used = new Set<number>();
    const live = pusher(f, 0, 1n << 48n, used);
    // w0's old step id (same process, same positions): its step 1 went to PS 0 only (2 parts
    // counted there), then w0 renewed its step id and trained on from its last commit.
    const renewed: Pusher = { ...live, client: 3n << 48n };
    renewed.positions.set({ shard: 0, epoch: 0, next: 999_900, rows: 99_990, steps: 9_999 });
    await pushPart(f, renewed, 0, 1, 2);
    await trainStep(f, live);
    // w1 pushed half a step and died.
    const dead = pusher(f, 1, 2n << 48n, used);
    dead.positions.set({ shard: 1, epoch: 0, next: 100, rows: 10, steps: 1 });
    const committed: Progress = { shard: 1, epoch: 0, next: 0, rows: 0, steps: 0, done: false, loss: null, worker: 'w1' };
    await f.store.commitProgress({ shard: 1, epoch: 0, worker: 'w1', incarnation: f.regs[1].incarnation }, committed);
    await pushPart(f, dead, 0, 1, 2);
    await f.regs[1].close();
    try {
      const out = await f.ck.take();
      expect(await recorded(out.path, 0)).to.include({ steps: 1, rows: ROWS_PER_STEP });
      expect(await recorded(out.path, 1)).to.deep.equal(committed);
    } finally {
      await f.close();
    }
  });

  it('abandons the cut when a live worker\'s step does not arrive in time, releasing every hold', async () => {
    const c = suite.track(await ckptCluster(2, TABLES));
    const f = await fixture(etcd.client, 'cut-stuck', c, suite.root, { cutWaitMs: 300 });
    const used = new Set<number>();
    const [stuck, other] = [pusher(f, 0, 1n << 48n, used), pusher(f, 1, 2n << 48n, used)];
    stuck.positions.set({ shard: 0, epoch: 0, next: 100, rows: 10, steps: 1 });
    await pushPart(f, stuck, 0, 1, 2);
    await trainStep(f, other);
    try {
      const err = await failure(f.ck.take());
      expect(err?.code).to.equal(ERROR_CODES.UNAVAILABLE);
      expect(err?.message).to.match(/did not arrive within 300 ms/);
      // Nothing is held: the other worker's next step is applied and answered.
      await trainStep(f, other);
      expect(other.steps).to.equal(2);
      expect(await f.store.checkpointPointer()).to.equal(undefined);
    } finally {
      await f.close();
    }
  });

  it('abandons the cut, releasing every hold, when the PS change between the rounds (a migration or a PS restart begins)', async () => {
    const { f, w } = await oneStepIn('cut-fence');
    try {
      // canCut holds before round 1 and turns false once round 1 has run (its 3rd question).
      let asked = 0;
      const err = await failure(f.ck.take(undefined, () => ++asked < 3));
      expect(asked).to.equal(3);
      expect(err?.code).to.equal(ERROR_CODES.UNAVAILABLE);
      expect(err?.message).to.match(/abandoned: the parameter servers changed/);
      // Nothing is held: the next step is applied and answered, and a later cut goes through.
      await trainStep(f, w);
      expect(await recorded((await f.ck.take()).path, 0)).to.include({ steps: 2 });
    } finally {
      await f.close();
    }
  });

  it('a hold left by a chief that died between the rounds ends at its deadline, and the next cut succeeds', async () => {
    const { f, w } = await oneStepIn('cut-chief');
    try {
      // The dead chief's round 1 only: every PS holds for 500 ms.
      const dead = f.c.client.checkpoints.stepCutParties('orphan', suite.root, 'full');
      await Promise.all(dead.map((p) => p.prepare('orphan', 500)));
      const err = await failure(f.ck.take());
      expect(err?.code, 'another cut holds: retryable').to.equal(ERROR_CODES.UNAVAILABLE);
      // The held step is applied once the orphaned hold ends on its own.
      await trainStep(f, w);
      expect(await recorded((await f.ck.take()).path, 0)).to.include({ steps: 2 });
    } finally {
      await f.close();
    }
  });
});
