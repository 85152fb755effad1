import { expect } from 'chai';
import { idsFrom } from '../../../src/wire/key-block';
import { AdamOptimizer } from '../../../src/ps/optimizers/adam';
import { EmbeddingTable, EmbeddingTableOptions } from '../../../src/ps/store/embedding-table';
import { initRow } from '../../../src/ps/store/initializers';

const DIM = 4;

function table(over: Partial<EmbeddingTableOptions> = {}): EmbeddingTable {
  return new EmbeddingTable({ name: 't', dim: DIM, optimizer: { kind: 'adagrad', lr: 0.1 }, seed: 9, ...over });
}

/** Every row's id, weights and state, as plain arrays sorted by id. */
function snapshot(t: EmbeddingTable): Array<[number, number, number[], number[]]> {
  const rows: Array<[number, number, number[], number[]]> = [];
  t.forEachRow((lo, hi, w, s) => rows.push([lo, hi, Array.from(w), Array.from(s)]));
  return rows.sort((a, b) => a[1] - b[1] || a[0] - b[0]);
}

function grads(...rows: number[][]): Float32Array {
  return Float32Array.from(rows.flat());
}

describe('EmbeddingTable', () => {
  it('pull creates missing rows from the initializer; repeated pulls return the same bits', () => {
    const t = table();
    const ids = idsFrom([5n, 0xffffffff00000001n, 5n]);
    const out = new Float32Array(3 * DIM);
    t.pull(ids, out);
    expect(t.size).to.equal(2);
    const expected = new Float32Array(DIM);
    initRow({ kind: 'uniform', scale: 0.01 }, 9, 5, 0, expected, 0, DIM);
    expect(Array.from(out.subarray(0, DIM))).to.deep.equal(Array.from(expected));
    expect(Array.from(out.subarray(2 * DIM))).to.deep.equal(Array.from(expected));
    const again = new Float32Array(3 * DIM + 2);
    t.pull(ids, again, 2); // odd offset: exercises the float32 path
    expect(Array.from(again.subarray(2))).to.deep.equal(Array.from(out));
  });

  it('gathers correctly on every copy path: odd dim, 8-byte and 4-byte aligned output, empty batch', () => {
    for (const dim of [1, 3, 4, 6, 10]) {
      const t = new EmbeddingTable({ name: 't', dim, optimizer: { kind: 'adam', lr: 0.1 }, seed: 2 });
      const ids = idsFrom([10n, 20n, 10n, 30n]);
      const expected = new Float32Array(4 * dim);
      [10, 20, 10, 30].forEach((id, i) => initRow({ kind: 'uniform', scale: 0.01 }, 2, id, 0, expected, i * dim, dim));
      for (const off of [0, 1, 2]) {
        const out = new Float32Array(4 * dim + off);
        t.pull(ids, out, off);
        expect(Array.from(out.subarray(off)), `dim ${dim} offset ${off}`).to.deep.equal(Array.from(expected));
      }
      t.pull(new Uint32Array(0), new Float32Array(0));
      expect(t.push(new Uint32Array(0), new Float32Array(0))).to.equal(0);
      expect(t.size).to.equal(3);
    }
  });

  it('push sums duplicate ids before the optimizer (Adagrad): [a, a] with g1, g2 == [a] with g1+g2', () => {
    const g1 = [0.5, -1, 0.25, 2];
    const g2 = [0.25, 3, -0.75, 0.125];
    const sum = g1.map((v, j) => Math.fround(v + g2[j]));
    const a = table();
    const b = table();
    expect(a.push(idsFrom([77n, 77n]), grads(g1, g2))).to.equal(1);
    expect(b.push(idsFrom([77n]), grads(sum))).to.equal(1);
    expect(snapshot(a)).to.deep.equal(snapshot(b));
    // and differs from applying them one after the other
    const c = table();
    c.push(idsFrom([77n]), grads(g1));
    c.push(idsFrom([77n]), grads(g2));
    expect(snapshot(c)).to.not.deep.equal(snapshot(a));
  });

  it('push applies each distinct row once, in a batch mixing new, existing and repeated ids', () => {
    const t = table({ optimizer: { kind: 'sgd', lr: 1 }, initializer: { kind: 'zeros' } });
    t.pull(idsFrom([1n]), new Float32Array(DIM));
    const n = t.push(idsFrom([1n, 2n, 1n, 3n, 2n, 1n]), grads([1, 0, 0, 0], [0, 1, 0, 0], [1, 0, 0, 0],
      [0, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0, 1]));
    expect(n).to.equal(3);
    const out = new Float32Array(3 * DIM);
    t.peek(idsFrom([1n, 2n, 3n]), out);
    expect(Array.from(out)).to.deep.equal([-3, 0, 0, -1, 0, -2, 0, 0, 0, 0, -1, 0]);
  });

  it('lazy Adam in a table: a row not pushed keeps its step count and moments', () => {
    const t = table({ optimizer: { kind: 'adam', lr: 0.01 } });
    t.push(idsFrom([1n, 2n]), new Float32Array(2 * DIM).fill(0.5));
    const before = snapshot(t).find((r) => r[0] === 2)!;
    for (let i = 0; i < 5; i++) t.push(idsFrom([1n]), new Float32Array(DIM).fill(0.1));
    const after = snapshot(t);
    expect(after.find((r) => r[0] === 2)).to.deep.equal(before);
    const s1 = Float32Array.from(after.find((r) => r[0] === 1)![3]);
    expect(AdamOptimizer.readStep(s1, 0, DIM)).to.equal(6);
    expect(AdamOptimizer.readStep(Float32Array.from(before[3]), 0, DIM)).to.equal(1);
  });

  describe('bad input leaves the table unchanged and names the field', () => {
    const cases: Array<[string, (t: EmbeddingTable) => void, string, RegExp]> = [
      ['odd ids length', (t) => t.push(new Uint32Array(3), new Float32Array(DIM)), 'TESSERA_ERR_BAD_IDS', /ids: length 3/],
      ['short grads', (t) => t.push(idsFrom([1n, 2n]), new Float32Array(DIM)), 'TESSERA_ERR_BAD_GRADIENT',
        /grads: length 4 does not equal 8/],
      ['long grads', (t) => t.push(idsFrom([1n]), new Float32Array(DIM + 1)), 'TESSERA_ERR_BAD_GRADIENT', /grads/],
      ['NaN gradient', (t) => t.push(idsFrom([1n, 99n]), grads([0, 0, 0, 0], [0, 0, NaN, 0])), 'TESSERA_ERR_NON_FINITE',
        /grads\[6\] is NaN \(row 1, id 99\)/],
      ['Infinity gradient', (t) => t.push(idsFrom([7n]), grads([Infinity, 0, 0, 0])), 'TESSERA_ERR_NON_FINITE',
        /grads\[0\] is Infinity \(row 0, id 7\)/],
      ['pull into a short out', (t) => t.pull(idsFrom([1n, 2n, 50n]), new Float32Array(2 * DIM)),
        'TESSERA_ERR_INVALID_ARGUMENT', /out: length 8/],
      ['pull at a bad offset', (t) => t.pull(idsFrom([1n]), new Float32Array(2 * DIM), -1),
        'TESSERA_ERR_INVALID_ARGUMENT', /out: offset -1/],
      ['putRow with short weights', (t) => t.putRow(50, 0, new Float32Array(DIM - 1), new Float32Array(DIM)),
        'TESSERA_ERR_INVALID_ARGUMENT', /weights: length 3/],
      ['putRow with NaN state', (t) => t.putRow(50, 0, new Float32Array(DIM), new Float32Array(DIM).fill(NaN)),
        'TESSERA_ERR_NON_FINITE', /state\[0\] is NaN/],
      ['putRow with a bad id half', (t) => t.putRow(2 ** 32, 0, new Float32Array(DIM), new Float32Array(DIM)),
        'TESSERA_ERR_INVALID_ARGUMENT', /^lo must be <= 4294967295/],
    ];
    for (const [what, act, code, message] of cases) {
      it(what, () => {
        const t = table();
        t.pull(idsFrom([1n, 2n]), new Float32Array(2 * DIM));
        t.push(idsFrom([1n]), new Float32Array(DIM).fill(0.3));
        const before = snapshot(t);
        let caught: unknown;
        try {
          act(t);
        } catch (err) {
          caught = err;
        }
        const e = caught as { code?: string; message?: string };
        expect(e, 'should throw').to.be.instanceOf(Error);
        expect(e.code).to.equal(code);
        expect(e.message).to.match(message);
        expect(snapshot(t)).to.deep.equal(before);
        expect(t.size).to.equal(2);
      });
    }
  });

  it('peek does not insert and returns what pull would create', () => {
    const t = table();
    t.pull(idsFrom([1n]), new Float32Array(DIM));
    t.push(idsFrom([1n]), new Float32Array(DIM).fill(1));
    const ids = idsFrom([1n, 12345678901234n]);
    const peeked = new Float32Array(2 * DIM);
    t.peek(ids, peeked);
    expect(t.size).to.equal(1);
    expect(t.has(ids[2], ids[3])).to.equal(false);
    const pulled = new Float32Array(2 * DIM);
    t.pull(ids, pulled);
    expect(t.size).to.equal(2);
    expect(Array.from(pulled)).to.deep.equal(Array.from(peeked));
  });

  it('putRow / forEachRow round trip, including into a fresh table', () => {
    const src = table({ optimizer: { kind: 'ftrl', alpha: 0.1 } });
    src.pull(idsFrom([3n, 4n, 0xfedcba9876543210n]), new Float32Array(3 * DIM));
    src.push(idsFrom([3n, 0xfedcba9876543210n]), new Float32Array(2 * DIM).fill(0.2));
    src.putRow(11, 22, Float32Array.of(1, 2, 3, 4), Float32Array.of(5, 6, 7, 8, 9, 10, 11, 12));
    const dst = table({ optimizer: { kind: 'ftrl', alpha: 0.1 } });
    src.forEachRow((lo, hi, w, s) => dst.putRow(lo, hi, w, s));
    expect(snapshot(dst)).to.deep.equal(snapshot(src));
    expect(snapshot(src).find((r) => r[0] === 11)).to.deep.equal([11, 22, [1, 2, 3, 4], [5, 6, 7, 8, 9, 10, 11, 12]]);
    dst.putRow(11, 22, Float32Array.of(0, 0, 0, 0), new Float32Array(8)); // overwrite keeps size
    expect(dst.size).to.equal(4);
  });

  it('validates options, naming the key', () => {
    expect(() => table({ dim: 0 })).to.throw('dim must be >= 1');
    expect(() => table({ dim: 4097 })).to.throw('dim must be <= 4096');
    expect(() => table({ name: 'a b' })).to.throw('name must be');
    expect(() => table({ slabRows: 1000 })).to.throw('slabRows must be a power of two');
    expect(() => table({ optimizer: { kind: 'sgd', lr: -1 } })).to.throw('optimizer.lr must be > 0');
    expect(() => table({ seed: -1 })).to.throw('seed must be >= 0');
  });

  it('reports memory: index plus whole slabs', () => {
    const t = table({ slabRows: 16 });
    t.pull(idsFrom(Array.from({ length: 17 }, (_, i) => i)), new Float32Array(17 * DIM));
    // 2 slabs of 16 rows x (4 weights + 4 accumulators) floats; index grown 16 -> 32 slots
    // x 12 bytes; per-slot metadata (id + change stamp + version, 16 bytes) for the 2 slabs
    expect(t.memoryBytes()).to.equal(2 * 16 * 8 * 4 + 32 * 12 + 2 * 16 * 16);
    // f16 weights (2 bytes each) and the tagged index (8 bytes per slot)
    const h = table({ slabRows: 16, weightFormat: 'f16' });
    h.pull(idsFrom(Array.from({ length: 17 }, (_, i) => i)), new Float32Array(17 * DIM));
    expect(h.memoryBytes()).to.equal(2 * 16 * (4 * 2 + 4 * 4) + 32 * 8 + 2 * 16 * 16);
  });
});
