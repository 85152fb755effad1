/**
 * Issue 19 §4: every PS row carries a version, the count of pushes applied to it, which a pull
 * reports as read and a push reports as it was just before the push applied.
 */
import { expect } from 'chai';
import { idsFrom } from '../../../src/wire/key-block';
import { DenseTable } from '../../../src/ps/store/dense-table';
import { EmbeddingTable, EmbeddingTableOptions } from '../../../src/ps/store/embedding-table';
import { SlotMeta, SLOT_META_BYTES_PER_ROW } from '../../../src/ps/store/slot-meta';

const DIM = 2;

function table(over: Partial<EmbeddingTableOptions> = {}): EmbeddingTable {
  return new EmbeddingTable({ name: 't', dim: DIM, optimizer: { kind: 'sgd', lr: 0.1 }, ...over });
}

/** The versions a pull of `keys` reads. */
function pulled(t: EmbeddingTable, keys: number[]): number[] {
  const v = new Uint32Array(keys.length);
  t.pull(idsFrom(keys), new Float32Array(keys.length * DIM), 0, v);
  return Array.from(v);
}

/** Pushes a small gradient to `keys`; returns the versions just before it applied. */
function pushed(t: EmbeddingTable, keys: number[]): number[] {
  const v = new Uint32Array(keys.length);
  t.push(idsFrom(keys), new Float32Array(keys.length * DIM).fill(0.5), v);
  return Array.from(v);
}

describe('row versions (issue 19)', () => {
  it('start at 0 and count pushes per row; a pull reads them, a push reports them as before it', () => {
    const t = table();
    expect(pulled(t, [1, 2, 3])).to.deep.equal([0, 0, 0]);
    expect(pushed(t, [1, 2])).to.deep.equal([0, 0]);
    expect(pushed(t, [1])).to.deep.equal([1]);
    expect(pulled(t, [3, 2, 1])).to.deep.equal([0, 1, 2]);
    // The push before which a reader read [1, 2]: two updates landed on row 1, one on row 2.
    const read = pulled(t, [1, 2]);
    pushed(t, [1]);
    pushed(t, [1, 2]);
    const before = pushed(t, [1, 2]);
    expect(before.map((b, k) => b - read[k])).to.deep.equal([2, 1]);
  });

  it('count a push once per row, however often the row repeats in it', () => {
    const t = table();
    expect(pushed(t, [7, 7, 8, 7])).to.deep.equal([0, 0, 0, 0]);
    expect(pulled(t, [7, 8])).to.deep.equal([1, 1]);
  });

  it('do not move on a pull, a read-only peek, or a push refused as non-finite', () => {
    const t = table({ optimizer: { kind: 'adagrad', lr: 0.1 } });
    pushed(t, [4]);
    pulled(t, [4]);
    const peeked = new Uint32Array(2);
    t.peek(idsFrom([4, 99]), new Float32Array(2 * DIM), 0, peeked);
    expect(Array.from(peeked), 'peek: 0 for an id without a row').to.deep.equal([1, 0]);
    expect(t.has(99, 0)).to.equal(false);
    // 1e20 squared overflows Adagrad's accumulator: refused whole.
    expect(() => t.push(idsFrom([4]), new Float32Array(DIM).fill(1e20))).to.throw(/non-finite/i);
    expect(pulled(t, [4])).to.deep.equal([1]);
  });

  it('read 0 for an id admission has not admitted; the shared unknown row counts its own updates', () => {
    const zeros = table({ admission: { minCount: 5 } });
    expect(pulled(zeros, [1])).to.deep.equal([0]);
    expect(pushed(zeros, [1])).to.deep.equal([0]);
    expect(pulled(zeros, [1])).to.deep.equal([0]);
    const unknown = table({ admission: { minCount: 5, unadmitted: 'unknown' } });
    pushed(unknown, [1, 2]); // both unadmitted: one update of the unknown row
    expect(pulled(unknown, [3])).to.deep.equal([1]);
  });

  it('start again at 0 when an evicted row is created again', () => {
    const t = table({ slabRows: 64, eviction: { ttlSteps: 1 } });
    pushed(t, [1]);
    pushed(t, [1]);
    expect(pulled(t, [1])).to.deep.equal([2]);
    pushed(t, [2]);
    pushed(t, [2]);
    t.evictExpired(); // pushes sweep a little too: row 1 may be gone already
    expect(t.has(1, 0)).to.equal(false);
    expect(pulled(t, [1])).to.deep.equal([0]);
  });

  it('are not checkpointed: a restored row starts at 0', () => {
    const t = table();
    pushed(t, [5]);
    const ids: number[] = [];
    const w: number[] = [];
    const s: number[] = [];
    t.forEachRow((lo, hi, weights, state) => { ids.push(lo, hi); w.push(...weights); s.push(...state); });
    const fresh = table();
    fresh.loadRows(Uint32Array.from(ids), Float32Array.from(w), Float32Array.from(s), 0, 1);
    expect(pulled(fresh, [5])).to.deep.equal([0]);
  });

  it('wrap at 2^32 in a slot', () => {
    const meta = new SlotMeta(4, false);
    meta.ensure(0);
    meta.assign(0, 1, 0, 1);
    const rows = Int32Array.of(0);
    const out = new Uint32Array(1);
    (meta as unknown as { versions: Uint32Array[] }).versions[0][0] = 0xffffffff;
    meta.stampRows(rows, 1, 1);
    meta.versionsOf(rows, 1, out);
    expect(out[0]).to.equal(0);
    expect(meta.bytes()).to.equal(4 * SLOT_META_BYTES_PER_ROW);
    expect(SLOT_META_BYTES_PER_ROW).to.equal(16);
  });

  it('a dense table counts its applied pushes (a refused one does not count)', () => {
    const d = new DenseTable({ name: 'd', size: 3, optimizer: { kind: 'adagrad', lr: 0.1 } });
    expect(d.version).to.equal(0);
    d.push(new Float32Array(3).fill(0.1));
    d.push(new Float32Array(3).fill(0.1));
    expect(() => d.push(new Float32Array(3).fill(1e20))).to.throw(/non-finite/i);
    expect(d.version).to.equal(2);
  });
});
