import { expect } from 'chai';
import { newCheckpointId } from '../../src/checkpoint/checkpoint-id';
import { writeManifest } from '../../src/checkpoint/manifest';
import { silentLogger } from '../../src/common/logger';
import { PsClient } from '../../src/client/ps-client';
import { cutAtSteps } from '../../src/client/step-cut';
import { StepNumbering } from '../../src/client/step-numbering';
import { buildManifest } from '../../src/client/take-checkpoint';
import { decodeStepPositions, StepPositions } from '../../src/control/step-positions';
import type { TableSpec } from '../../src/ps/store/table-spec';
import { ownerOf } from '../../src/sharding/shard-map';
import { checkpointRows, ckptCluster, ckptPerTest, dumpTable } from '../helpers/checkpoint';

// Issue 15: the data client tags every request of a pushStep with the worker's step (ADR 0040),
// sends an empty request to a PS the step touches no row of, and carries the positions after the
// step; the chief's two rounds over real gRPC PS then cut both PS at the same steps, while both
// workers keep pushing through their push windows.

const DIM = 4;
const TABLES: TableSpec[] = [{ name: 'emb', kind: 'embedding', dim: DIM, optimizer: { kind: 'sgd', lr: 1 }, seed: 5 }];

function idOwnedBy(map: Parameters<typeof ownerOf>[0], p: number, skip: Set<number>): number {
  for (let lo = 1; ; lo++) if (!skip.has(lo) && ownerOf(map, lo, 0) === p) { skip.add(lo); return lo; }
}

const weightAt = (bits: string | undefined): number[] => [...new Float32Array(Uint8Array.from(Buffer.from(bits!.split('|')[0], 'hex')).buffer)];
const after = (start: number[], n: number): number[] => start.map((v) => { for (let i = 0; i < n; i++) v = Math.fround(v - 1); return v; });

describe('pushStep tags its requests for a cut at per-worker steps (issue 15)', function () {
  this.timeout(60_000);
  const suite = ckptPerTest();

  it('a step touching one PS tags an empty request to the other; a cut taken while both workers push holds exactly steps <= s_w, with their positions', async () => {
    const c = suite.track(await ckptCluster(2, TABLES));
    const used = new Set<number>();
    // Worker 0 trains rows on PS 0 only (PS 1 gets empty requests); worker 1 a row on each PS.
    const rows = [[idOwnedBy(c.map, 0, used)], [idOwnedBy(c.map, 0, used), idOwnedBy(c.map, 1, used)]];
    const start = await Promise.all(rows.map((ids) => Promise.all(ids.map(async (id) => [...await c.client.data.pull('emb', new Uint32Array([id, 0]), DIM, { readOnly: true })]))));
    const workers = [0, 1].map((w) => {
      const positions = new StepPositions({ worker: `w${w}`, incarnation: () => 'inc-1' });
      const steps = new StepNumbering(() => positions.encode());
      const client = new PsClient({ shardMap: c.map, logger: silentLogger(), maxInflightPushes: 2, steps });
      return { positions, steps, client, done: 0 };
    });
    let stop = false;
    const train = async (w: number): Promise<void> => {
      const k = workers[w];
      const ids = new Uint32Array(rows[w].flatMap((id) => [id, 0]));
      for (let s = 1; !stop; s++) {
        k.positions.set({ shard: w, epoch: 0, next: s, rows: 10 * s, steps: s });
        await k.client.data.pushStep([{ table: 'emb', ids, grads: new Float32Array(rows[w].length * DIM).fill(1) }]);
        k.done = s;
      }
      await k.client.data.flush();
    };
    const running = [train(0), train(1)];
    try {
      while (workers.some((k) => k.steps.ackedThrough < 5)) await new Promise(setImmediate);
      const id = newCheckpointId(1);
      const cut = await cutAtSteps(c.client.checkpoints.stepCutParties(id, suite.root, 'full'), 'cut-tags', { holdMs: 10_000, waitMs: 10_000 });
      const mark = workers.map((k) => k.done);
      while (workers.some((k, w) => k.done < mark[w] + 3)) await new Promise(setImmediate);
      stop = true;
      await Promise.all(running);

      const statuses = await c.client.checkpoints.awaitSnapshot(id, 30_000);
      // PS 1 holds none of worker 0's rows, yet applied its every step: the empty requests.
      const probe = c.client.checkpoints.stepCutParties(newCheckpointId(2), suite.root, 'full')[1];
      const onPs1 = await probe.prepare('probe', 10_000);
      await probe.release('probe', 'test probe');
      expect(onPs1.get(workers[0].steps.id)?.step, 'worker 0 on PS 1').to.equal(workers[0].done);
      await writeManifest(`${suite.root}/${id}`, buildManifest({ id, kind: 'full' }, statuses));
      const atCut = await checkpointRows(suite.root, id);
      const live = dumpTable(c.servers, 'emb');
      for (const w of [0, 1]) {
        const k = workers[w];
        const sw = cut.steps.get(k.steps.id)!;
        expect(sw, `worker ${w} is in the cut`).to.be.greaterThan(0);
        const decoded = decodeStepPositions(cut.positions.get(k.steps.id)!)!;
        expect(decoded, `worker ${w}: the positions after step ${sw}`).to.deep.include({ worker: `w${w}`, incarnation: 'inc-1' });
        expect(decoded.shards).to.deep.equal([{ shard: w, epoch: 0, next: sw, rows: 10 * sw, steps: sw }]);
        rows[w].forEach((id, i) => {
          expect(weightAt(atCut.get(`emb ${id}:0`)), `worker ${w}, row ${id}: the cut holds steps 1..${sw}`).to.deep.equal(after(start[w][i], sw));
          expect(weightAt(live.get(`${id}:0`)), `worker ${w}, row ${id}: every step applied once`).to.deep.equal(after(start[w][i], k.done));
        });
      }
    } finally {
      stop = true;
      await Promise.allSettled(running);
      for (const k of workers) k.client.close();
    }
  });

  it('a step whose push fails starts the numbering over under a fresh step id, so no later step waits behind it', async () => {
    const c = suite.track(await ckptCluster(2, TABLES));
    const steps = new StepNumbering();
    const client = new PsClient({ shardMap: c.map, logger: silentLogger(), maxInflightPushes: 0, steps });
    try {
      const ids = new Uint32Array([1, 0]);
      await client.data.pushStep([{ table: 'emb', ids, grads: new Float32Array(DIM) }]);
      const first = steps.id;
      expect(steps.ackedThrough).to.equal(1);
      const err = await client.data.pushStep([{ table: 'nope', ids, grads: new Float32Array(DIM) }]).then(() => undefined, (e: unknown) => e);
      expect(err, 'an unknown table is refused').to.be.instanceOf(Error);
      expect(steps.id).to.not.equal(first);
      expect(steps.ackedThrough).to.equal(0);
      await client.data.pushStep([{ table: 'emb', ids, grads: new Float32Array(DIM) }]);
      expect(steps.ackedThrough, 'the new id numbers from 1').to.equal(1);
      const answers = await Promise.all(c.client.checkpoints.stepCutParties('unused', suite.root, 'full').map(async (p, i) => {
        const a = await p.prepare(`probe-${i}`, 10_000);
        await p.release(`probe-${i}`, 'test probe');
        return a;
      }));
      for (const a of answers) expect(a.get(steps.id)?.step, 'every PS has step 1 of the new id').to.equal(1);
    } finally {
      client.close();
    }
  });

  it('numbers steps from 1 and acknowledges them in order, whatever order they are answered in', () => {
    const n = new StepNumbering();
    expect([n.begin(), n.begin(), n.begin()]).to.deep.equal([1, 2, 3]);
    n.answered(2);
    expect(n.ackedThrough).to.equal(0);
    n.answered(1);
    expect(n.ackedThrough).to.equal(2);
    n.answered(3);
    expect(n.ackedThrough).to.equal(3);
    expect(n.id).to.not.equal(0n);
  });
});
