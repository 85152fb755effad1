import { expect } from 'chai';
import { newCheckpointId } from '../../src/checkpoint/checkpoint-id';
import { takeCheckpoint } from '../../src/client/take-checkpoint';
import { verifyCheckpoint } from '../../src/checkpoint/verify';
import type { TableSpec } from '../../src/ps/store/table-spec';
import { CkptCluster, ckptCluster, dumpTable, gradsFor, idRange, trainRound, ckptPerTest } from '../helpers/checkpoint';
import { restoreFromCheckpoint } from '../../src/client/restore-checkpoint';

const DIM = 8;
const TABLES: TableSpec[] = [
  { name: 'emb', kind: 'embedding', dim: DIM, optimizer: { kind: 'adagrad', lr: 0.05 }, seed: 1 },
  { name: 'half', kind: 'embedding', dim: 4, optimizer: { kind: 'adam', lr: 0.01 }, weightFormat: 'f16', seed: 2 },
  { name: 'mlp', kind: 'dense', size: 37, optimizer: { kind: 'adam', lr: 0.01 } },
];

async function fill(c: CkptCluster, rows: number, rounds: number): Promise<void> {
  for (let r = 0; r < rounds; r++) {
    await trainRound(c.client, 'emb', idRange(0, rows), DIM, r);
    await trainRound(c.client, 'half', idRange(100_000, rows / 2), 4, r);
    await c.client.data.pushDense('mlp', gradsFor(1, 37, r));
    await c.client.data.flush();
  }
}

function dumpAll(c: CkptCluster): Record<string, Map<string, string>> {
  return { emb: dumpTable(c.servers, 'emb'), half: dumpTable(c.servers, 'half'), mlp: dumpTable(c.servers, 'mlp') };
}

/** Dense tables live on one PS; compare their content, not the PS's address. */
function normalize(d: Record<string, Map<string, string>>): Record<string, unknown> {
  return { emb: d.emb, half: d.half, mlp: [...d.mlp.values()] };
}

describe('checkpoint snapshot and restore (issue #5)', function () {
  this.timeout(60_000);
  const suite = ckptPerTest();

  it('a snapshot taken under concurrent pushes holds exactly the state at the cut', async () => {
    const c = await ckptCluster(2, TABLES);
    suite.track(c);
    await fill(c, 4000, 2);
    const atCut = dumpAll(c);
    const id = newCheckpointId(1);
    await c.client.checkpoints.snapshot(id, suite.root, 'full');
    // Pushes land while the PS write their files: each slab they touch is copied first.
    for (let r = 10; r < 14; r++) await fill(c, 4000, 1);
    const statuses = await c.client.checkpoints.awaitSnapshot(id, 30_000);
    expect(statuses.reduce((s, x) => s + x.copiedSlabs, 0), 'pushes overlapped the write').to.be.greaterThan(0);
    expect(dumpAll(c).emb).to.not.deep.equal(atCut.emb);
    const { buildManifest } = await import('../../src/client/take-checkpoint');
    const { writeManifest } = await import('../../src/checkpoint/manifest');
    await writeManifest(`${suite.root}/${id}`, buildManifest({ id, kind: 'full' }, statuses));
    expect((await verifyCheckpoint(suite.root, id)).faults).to.deep.equal([]);
    const fresh = await ckptCluster(2, TABLES);
    suite.track(fresh);
    await restoreFromCheckpoint(fresh.client.checkpoints, suite.root, id);
    expect(normalize(dumpAll(fresh))).to.deep.equal(normalize(atCut));
  });

  for (const target of [3, 1]) {
    it(`restores a 4-PS checkpoint onto ${target} PS: every row and optimizer state bit-identical`, async () => {
      const src = await ckptCluster(4, TABLES);
      suite.track(src);
      await fill(src, 3000, 3);
      const before = dumpAll(src);
      const id = newCheckpointId(7);
      await takeCheckpoint(src.client.checkpoints, suite.root, { id, kind: 'full', job: { step: 3 } });
      const dst = await ckptCluster(target, TABLES);
      suite.track(dst);
      const res = await restoreFromCheckpoint(dst.client.checkpoints, suite.root, id);
      expect(res.flatMap((r) => r.tables).filter((t) => t.table === 'emb').reduce((s, t) => s + t.rows, 0)).to.equal(before.emb.size);
      expect(normalize(dumpAll(dst))).to.deep.equal(normalize(before));
      // Every row sits on the PS that owns its bucket now: pulls through the new map read it.
      const ids = idRange(0, 3000);
      const pulled = await dst.client.data.pull('emb', ids, DIM, { readOnly: true });
      for (let i = 0; i < 3000; i += 97) {
        const w = Buffer.from(pulled.buffer, i * DIM * 4, DIM * 4).toString('hex');
        expect(w, `row ${i} pulled through the new map`).to.equal(before.emb.get(`${ids[2 * i]}:${ids[2 * i + 1]}`)!.split('|')[0]);
      }
      expect((await dst.client.admin.stats()).reduce((s, st) => s + (st.tables.find((t) => t.name === 'emb')?.rows ?? 0), 0)).to.equal(before.emb.size);
    });
  }
});
