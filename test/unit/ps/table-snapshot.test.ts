import { expect } from 'chai';
import { EmbeddingTable, EmbeddingTableOptions } from '../../../src/ps/store/embedding-table';
import type { SnapshotBatch } from '../../../src/ps/store/table-snapshot';
import { bucketOf } from '../../../src/sharding/buckets';

const DIM = 4;
const SLAB = 16;
const BUCKETS = 64;

function table(over: Partial<EmbeddingTableOptions> = {}): EmbeddingTable {
  return new EmbeddingTable({ name: 't', dim: DIM, optimizer: { kind: 'adagrad', lr: 0.1 }, seed: 3, slabRows: SLAB, ...over });
}

function idsOf(from: number, n: number): Uint32Array {
  const ids = new Uint32Array(2 * n);
  for (let i = 0; i < n; i++) {
    ids[2 * i] = (from + i) * 2654435761 >>> 0;
    ids[2 * i + 1] = from + i;
  }
  return ids;
}

function grads(n: number, v: number): Float32Array {
  return new Float32Array(n * DIM).map((_, i) => v + (i % 7) * 0.01);
}

/** id → weight and state bits, as the table holds them now. */
function contents(t: EmbeddingTable): Map<string, string> {
  const m = new Map<string, string>();
  t.forEachRow((lo, hi, w, s) => m.set(`${lo}:${hi}`, `${[...new Uint32Array(w.slice().buffer)]}|${[...new Uint32Array(s.slice().buffer)]}`));
  return m;
}

/** The same map built from snapshot batches (f32 tables). */
function fromBatches(batches: SnapshotBatch[], dim: number, sw: number): Map<string, string> {
  const m = new Map<string, string>();
  for (const b of batches) {
    for (let k = 0; k < b.rows; k++) {
      const w = new Float32Array(b.weights.subarray(k * dim, (k + 1) * dim));
      const s = b.state.slice(k * sw, (k + 1) * sw);
      const key = `${b.ids[2 * k]}:${b.ids[2 * k + 1]}`;
      expect(m.has(key), `row ${key} emitted twice`).to.equal(false);
      m.set(key, `${[...new Uint32Array(w.buffer)]}|${[...new Uint32Array(s.buffer)]}`);
    }
  }
  return m;
}

describe('TableSnapshot (issue #5: copy-on-write cut)', () => {
  it('yields exactly the rows at the cut while pushes, inserts and pulls go on between slabs', () => {
    const t = table();
    const all = idsOf(0, 200);
    t.pull(all, new Float32Array(200 * DIM));
    t.push(all, grads(200, 0.5));
    const atCut = contents(t);
    const snap = t.beginSnapshot({ sinceEpoch: 0, nextEpoch: 2, numBuckets: BUCKETS, owned: null });
    const batches: SnapshotBatch[] = [];
    let round = 0;
    for (let b = snap.next(); b; b = snap.next()) {
      batches.push(b);
      // After every slab: update every old row, and create new ones (excluded from the snapshot).
      t.push(all, grads(200, 0.1 * ++round));
      t.pull(idsOf(1000 + round * 10, 10), new Float32Array(10 * DIM));
    }
    t.endSnapshot(snap);
    expect(fromBatches(batches, DIM, t.stateWidth)).to.deep.equal(atCut);
    expect(contents(t)).to.not.deep.equal(atCut);
    expect(snap.peakCopies).to.be.at.most(Math.ceil(200 / SLAB));
  });

  it('copies only slabs changed before they are written, and frees each copy once written', () => {
    const t = table();
    const all = idsOf(0, 10 * SLAB);
    t.pull(all, new Float32Array(10 * SLAB * DIM));
    const snap = t.beginSnapshot({ sinceEpoch: 0, nextEpoch: 2, numBuckets: BUCKETS, owned: null });
    snap.next(); // slab 0 written
    t.push(all.subarray(0, 2 * 2 * SLAB), grads(2 * SLAB, 1)); // rows of slabs 0 and 1
    expect(snap.copiedSlabs).to.equal(1);
    snap.next(); // slab 1 written from its copy
    t.push(all.subarray(0, 2 * 2 * SLAB), grads(2 * SLAB, 1));
    expect(snap.copiedSlabs).to.equal(1);
    expect(snap.peakCopies).to.equal(1);
    while (snap.next());
    t.endSnapshot(snap);
  });

  it('groups rows by bucket and keeps only owned buckets', () => {
    const t = table();
    const all = idsOf(0, 300);
    t.pull(all, new Float32Array(300 * DIM));
    const owned = new Uint8Array(BUCKETS).map((_, b) => (b % 3 === 0 ? 1 : 0));
    const snap = t.beginSnapshot({ sinceEpoch: 0, nextEpoch: 2, numBuckets: BUCKETS, owned });
    let rows = 0;
    let expected = 0;
    for (let i = 0; i < 300; i++) if (owned[bucketOf(all[2 * i], all[2 * i + 1], BUCKETS)]) expected++;
    for (let b = snap.next(); b; b = snap.next()) {
      for (let k = 0; k < b.rows; k++) {
        expect(bucketOf(b.ids[2 * k], b.ids[2 * k + 1], BUCKETS)).to.equal(b.buckets[k]);
        expect(owned[b.buckets[k]]).to.equal(1);
        if (k > 0) expect(b.buckets[k]).to.be.at.least(b.buckets[k - 1]);
      }
      rows += b.rows;
    }
    expect(rows).to.equal(expected);
  });

  it('eviction after the cut neither frees nor reuses a slot whose row is still unwritten', () => {
    const t = table({ eviction: { maxRows: 4 * SLAB } });
    const first = idsOf(0, 4 * SLAB);
    t.pull(first, new Float32Array(4 * SLAB * DIM));
    t.push(first, grads(4 * SLAB, 0.3));
    const atCut = contents(t);
    const snap = t.beginSnapshot({ sinceEpoch: 0, nextEpoch: 2, numBuckets: BUCKETS, owned: null });
    // New ids force budget eviction, and the freed slots are reused for the new rows.
    t.pull(idsOf(5000, 2 * SLAB), new Float32Array(2 * SLAB * DIM));
    t.push(idsOf(5000, 2 * SLAB), grads(2 * SLAB, 0.7));
    expect(t.memoryCounters().evicted.budget).to.be.greaterThan(0);
    const batches: SnapshotBatch[] = [];
    for (let b = snap.next(); b; b = snap.next()) batches.push(b);
    t.endSnapshot(snap);
    expect(fromBatches(batches, DIM, t.stateWidth)).to.deep.equal(atCut);
  });

  it('incremental: only rows created or pushed since the base cut, plus ids evicted since', () => {
    const t = table({ eviction: { maxRows: 4 * SLAB } });
    const first = idsOf(0, 3 * SLAB);
    t.pull(first, new Float32Array(3 * SLAB * DIM));
    const full = t.beginSnapshot({ sinceEpoch: 0, nextEpoch: 2, numBuckets: BUCKETS, owned: null });
    while (full.next());
    t.endSnapshot(full);
    t.push(first.subarray(0, 2 * 5), grads(5, 0.2)); // 5 pushed rows
    t.pull(idsOf(9000, 2 * SLAB), new Float32Array(2 * SLAB * DIM)); // created; evicts some
    const evicted = t.memoryCounters().evicted.budget;
    expect(evicted).to.be.greaterThan(0);
    const inc = t.beginSnapshot({ sinceEpoch: 2, nextEpoch: 3, numBuckets: BUCKETS, owned: null });
    let rows = 0;
    for (let b = inc.next(); b; b = inc.next()) rows += b.rows;
    t.endSnapshot(inc);
    const survivors = [...contents(t).keys()];
    const changedAlive = survivors.filter((k) => Number(k.split(':')[1]) >= 9000 || Number(k.split(':')[1]) < 5).length;
    expect(rows).to.equal(changedAlive);
    expect(inc.tombstones.length / 2).to.equal(evicted);
  });
});
