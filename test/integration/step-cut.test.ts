import { expect } from 'chai';
import { newCheckpointId } from '../../src/checkpoint/checkpoint-id';
import { writeManifest } from '../../src/checkpoint/manifest';
import { silentLogger } from '../../src/common/logger';
import { PsFleet } from '../../src/client/ps-fleet';
import { cutAtSteps } from '../../src/client/step-cut';
import { buildManifest } from '../../src/client/take-checkpoint';
import type { TableSpec } from '../../src/ps/store/table-spec';
import { ownerOf } from '../../src/sharding/shard-map';
import { Encoding } from '../../src/wire/data-plane-codec';
import { asBytes } from '../../src/wire/key-block';
import { checkpointRows, ckptCluster, ckptPerTest, dumpTable } from '../helpers/checkpoint';

// Issue 15 (pause per delta <= 50 ms): a cut at per-worker step numbers over real gRPC PS
// (ADR 0040). Two workers push tagged steps without ever stopping; the chief's two rounds cut
// both PS; the checkpoint written from the cut holds exactly each worker's steps <= s_w.

const DIM = 4;
const TABLES: TableSpec[] = [{ name: 'emb', kind: 'embedding', dim: DIM, optimizer: { kind: 'sgd', lr: 1 }, seed: 3 }];

/** The first `n` ids (lo, hi = 0) whose bucket PS `p` owns, one per worker. */
function idsOwnedBy(map: Parameters<typeof ownerOf>[0], p: number, n: number, skip: Set<number>): number[] {
  const out: number[] = [];
  for (let lo = 1; out.length < n; lo++) if (!skip.has(lo) && ownerOf(map, lo, 0) === p) { out.push(lo); skip.add(lo); }
  return out;
}

describe('a cut at per-worker steps over real PS, while workers keep pushing (issue 15)', function () {
  this.timeout(60_000);
  const suite = ckptPerTest();

  for (const dataPlane of ['grpc-js', 'http2'] as const) {
    it(`${dataPlane}: holds exactly each worker's steps <= s_w on every PS, answers the positions of s_w, and loses or repeats no push`, async () => {
      const c = suite.track(await ckptCluster(2, TABLES, 64, undefined, dataPlane));
      const fleet = new PsFleet({ shardMap: c.map, logger: silentLogger(), dataPlane });
      const used = new Set<number>();
      // rows[w][p]: worker w's row on PS p. Every step of w pushes gradient 1 to each of its rows
      // (SGD, lr 1), so a row's weight is its start value minus the steps applied to it.
      const rows = [0, 1].map(() => [0, 1].map((p) => idsOwnedBy(c.map, p, 1, used)[0]));
      const steps = [0, 0];
      let stop = false;
      const worker = async (w: number): Promise<void> => {
        const client = BigInt(w + 1) << 48n;
        for (let step = 1; !stop; step++) {
          const positions = new TextEncoder().encode(`w${w}@${step}`);
          await Promise.all([0, 1].map((p) => fleet.conns[p].push({
            table: 'emb', shardMapVersion: c.map.version, ids: asBytes(new Uint32Array([rows[w][p], 0])),
            grads: asBytes(new Float32Array(DIM).fill(1)), encoding: Encoding.F32, requestId: 0,
            stepTag: { client, step, parts: 1, ackedThrough: step - 1, positions },
          }, 10_000).then((res) => { if (res.error) throw new Error(res.error.message); })));
          steps[w] = step;
        }
      };
      // Rows start at their initializer's values (a read-only pull creates nothing).
      const start = await Promise.all([0, 1].map((w) => Promise.all([0, 1].map(async (p) => [...await c.client.data.pull('emb', new Uint32Array([rows[w][p], 0]), DIM, { readOnly: true })]))));
      const workers = [worker(0), worker(1)];
      try {
        while (steps[0] < 5 || steps[1] < 5) await new Promise(setImmediate);
        const id = newCheckpointId(1);
        const cut = await cutAtSteps(c.client.checkpoints.stepCutParties(id, suite.root, 'full'), 'cut-1', { holdMs: 10_000, waitMs: 10_000 });
        const moreAfter = steps.slice();
        while (steps[0] < moreAfter[0] + 3 || steps[1] < moreAfter[1] + 3) await new Promise(setImmediate);
        stop = true;
        await Promise.all(workers);

        const statuses = await c.client.checkpoints.awaitSnapshot(id, 30_000);
        await writeManifest(`${suite.root}/${id}`, buildManifest({ id, kind: 'full' }, statuses));
        const atCut = await checkpointRows(suite.root, id);
        const live = dumpTable(c.servers, 'emb');
        for (const w of [0, 1]) {
          const sw = cut.steps.get(BigInt(w + 1) << 48n)!;
          expect(sw, `worker ${w} is in the cut`).to.be.greaterThan(0);
          expect(new TextDecoder().decode(cut.positions.get(BigInt(w + 1) << 48n))).to.equal(`w${w}@${sw}`);
          for (const p of [0, 1]) {
            const key = `${rows[w][p]}:0`;
            const weightAt = (bits: string | undefined): number[] => [...new Float32Array(Uint8Array.from(Buffer.from(bits!.split('|')[0], 'hex')).buffer)];
            // n SGD steps of gradient 1 at lr 1, in float32 as the PS applies them.
            const expectAfter = (n: number): number[] => start[w][p].map((v) => { for (let i = 0; i < n; i++) v = Math.fround(v - 1); return v; });
            expect(weightAt(atCut.get(`emb ${key}`)), `worker ${w} on PS ${p}: the cut holds steps 1..${sw}`).to.deep.equal(expectAfter(sw));
            expect(weightAt(live.get(key)), `worker ${w} on PS ${p}: every step applied once in the end`).to.deep.equal(expectAfter(steps[w]));
          }
        }
      } finally {
        stop = true;
        await Promise.allSettled(workers);
        fleet.close();
      }
    });
  }
});
