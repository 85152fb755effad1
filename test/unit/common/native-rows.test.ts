/**
 * Issue 18 §1: the native data-plane kernels (native/tessera_rows.c, src/common/native-rows.ts)
 * give bit for bit what the JavaScript loops give, on random inputs with missing and duplicate
 * ids, f32 and f16 tables, growth past 2^21 index slots, refused pushes, odd dims and unaligned
 * views; and the addon refuses out-of-range arguments instead of touching memory.
 *
 * Skips when the addon is not built, unless TESSERA_REQUIRE_NATIVE=1 (CI), where that fails.
 */
import { expect } from 'chai';
import { loadNativeRows, NATIVE_MIN_ROWS, nativeRows, useNativeRows } from '../../../src/common/native-rows';
import { mulberry32 } from '../../../src/common/mulberry32';
import { DenseTable } from '../../../src/ps/store/dense-table';
import { EmbeddingTable } from '../../../src/ps/store/embedding-table';
import { IdIndex } from '../../../src/ps/store/id-index';
import { checkFinite } from '../../../src/ps/store/row-ops';
import { Deduper } from '../../../src/sharding/dedup';
import { gatherRowsAt } from '../../../src/sharding/row-moves';
import { planShardMap } from '../../../src/sharding/shard-map';
import { gatherRows, sliceByOwner, stitchRows } from '../../../src/sharding/slicer';
import type { WeightFormat } from '../../../src/ps/store/row-storage';

const loaded = loadNativeRows();

/** `f` with the JavaScript loops, then with the native kernels. */
function both<T>(f: () => T): { js: T; native: T } {
  const was = useNativeRows(false);
  try {
    const js = f();
    useNativeRows(true);
    return { js, native: f() };
  } finally {
    useNativeRows(was);
  }
}

/** `n` random ids, a share of them drawn from `pool` (present or repeated ones). */
function idsFrom(next: () => number, n: number, pool: Uint32Array | null, share: number): Uint32Array {
  const ids = new Uint32Array(2 * n);
  for (let i = 0; i < n; i++) {
    if (pool && pool.length > 0 && next() / 2 ** 32 < share) {
      const j = Math.floor((next() / 2 ** 32) * (pool.length >>> 1));
      ids[2 * i] = pool[2 * j];
      ids[2 * i + 1] = pool[2 * j + 1];
    } else {
      ids[2 * i] = next();
      ids[2 * i + 1] = next() & 0xff; // ids sharing their high half, as sequential ones do
    }
  }
  return ids;
}

function table(format: WeightFormat, dim: number, slabRows = 256): EmbeddingTable {
  return new EmbeddingTable({ name: 't', dim, optimizer: { kind: 'adagrad', lr: 0.05 }, weightFormat: format, slabRows, seed: 3 });
}

describe('native data-plane kernels (issue 18 §1)', function () {
  this.timeout(60_000);
  if (!loaded.ok) {
    if (process.env.TESSERA_REQUIRE_NATIVE === '1') it('is built (TESSERA_REQUIRE_NATIVE=1)', () => { throw new Error(loaded.reason); });
    else it.skip(`skipped: ${loaded.reason}`);
    return;
  }
  const k = loaded.rows;

  it('probes an id index as the JavaScript does, below and past 2^21 slots, with missing and repeated ids', () => {
    for (const expected of [0, 2_200_000]) {
      const next = mulberry32(expected + 1);
      const index = new IdIndex(expected);
      const present = idsFrom(next, 20_000, null, 0);
      for (let i = 0; i < 20_000; i++) index.findOrInsert(present[2 * i], present[2 * i + 1], i);
      const query = idsFrom(next, 5_000, present, 0.7);
      const r = both(() => {
        const rows = new Int32Array(5_000);
        return { missing: index.findAll(query, 5_000, rows), rows };
      });
      expect(r.native.missing).to.be.above(0).and.equal(r.js.missing);
      expect(r.native.rows).to.deep.equal(r.js.rows);
    }
  });

  for (const format of ['f32', 'f16'] as const) {
    it(`pulls, pushes and refuses an overflowing push on an ${format} table exactly as the JavaScript does`, () => {
      const run = (): Float32Array[] => {
        const next = mulberry32(7);
        const t = table(format, 16);
        const seen: Uint32Array[] = [];
        const outs: Float32Array[] = [];
        for (let step = 0; step < 12; step++) {
          const pool = seen.length > 0 ? seen[seen.length - 1] : null;
          const ids = idsFrom(next, 700 + step, pool, 0.6); // new ids, present ids and duplicates
          seen.push(ids);
          const out = new Float32Array(ids.length * 8);
          t.pull(ids, out);
          outs.push(out);
          const grads = Float32Array.from({ length: out.length }, () => next() / 2 ** 32 - 0.5);
          t.push(ids, grads);
        }
        const last = seen[seen.length - 1];
        const before = new Float32Array(last.length * 8);
        t.peek(last, before);
        // Row 300's accumulator overflows: the push is refused whole, the 299 rows before it rolled back.
        const huge = new Float32Array(last.length * 8).fill(0.01).fill(1e30, 300 * 16, 301 * 16);
        expect(() => t.push(last, huge)).to.throw(/finite/);
        const after = new Float32Array(last.length * 8);
        t.peek(last, after);
        expect(Array.from(after)).to.deep.equal(Array.from(before));
        outs.push(after);
        return outs;
      };
      const r = both(run);
      expect(r.native.length).to.equal(r.js.length);
      r.native.forEach((out, i) => expect(Buffer.from(out.buffer).equals(Buffer.from(r.js[i].buffer)), `output ${i}`).to.equal(true));
    });
  }

  it('applies a push to a row near float32\'s largest value, and refuses NaN gradients naming the table and id, as the JavaScript does', () => {
    const next = mulberry32(29);
    const ids = idsFrom(next, 600, null, 0);
    const grads = Float32Array.from({ length: 600 * 16 }, () => next() / 2 ** 32 - 0.5);
    const r = both(() => {
      const t = table('f32', 16);
      t.pull(ids, new Float32Array(600 * 16));
      const w = new Float32Array(16).fill(3e38); // finite, and stays finite: updated, not refused
      t.putRow(ids[2 * 100], ids[2 * 100 + 1], w, new Float32Array(16).fill(1));
      t.push(ids, grads);
      const before = new Float32Array(600 * 16);
      t.peek(ids, before);
      const nan = new Float32Array(600 * 16).fill(0.01);
      nan[450 * 16 + 3] = NaN;
      let refusal = '';
      try { t.push(ids, nan); } catch (e) { refusal = (e as Error).message; }
      const after = new Float32Array(600 * 16);
      t.peek(ids, after);
      expect(Buffer.from(after.buffer).equals(Buffer.from(before.buffer)), 'no row changed').to.equal(true);
      return { refusal, rows: Array.from(before) };
    });
    expect(r.native.refusal).to.match(/table "t": grads\[7203\] is NaN \(row 450, id \d+\)/).and.equal(r.js.refusal);
    expect(r.native.rows).to.deep.equal(r.js.rows);
  });

  it('applies Adam to a dense table bit for bit as the JavaScript does, and rolls back an update that overflows (issue 18 §3, bench:cluster)', () => {
    const size = 333_001; // the bench's DeepFM tower is 333k floats; odd, so no loop tail is assumed
    const next = mulberry32(31);
    const steps = Array.from({ length: 3 }, () => Float32Array.from({ length: size }, () => (next() / 2 ** 32 - 0.5) * 0.2));
    const r = both(() => {
      const t = new DenseTable({ name: 'dense', size, optimizer: { kind: 'adam', lr: 0.001 }, seed: 5 });
      for (const g of steps) t.push(g);
      const before = [Buffer.from(t.values.slice().buffer), Buffer.from(t.state.slice().buffer)];
      const huge = new Float32Array(size).fill(0.01);
      huge[size - 1] = 3e38; // finite, but its square times (1 - beta2) overflows float32 in v
      let refusal = '';
      try { t.push(huge); } catch (e) { refusal = `${(e as { code?: string }).code}: ${(e as Error).message}`; }
      expect(Buffer.from(t.values.buffer).equals(before[0]) && Buffer.from(t.state.buffer).equals(before[1]), 'rolled back').to.equal(true);
      return { refusal, values: before[0], state: before[1] };
    });
    expect(r.native.refusal).to.match(/^TESSERA_ERR_NON_FINITE/).and.equal(r.js.refusal);
    expect(r.native.values.equals(r.js.values), 'weights').to.equal(true);
    expect(r.native.state.equals(r.js.state), 'moments and step count').to.equal(true);
  });

  it('gathers and updates rows of a table with more slabs than the kernels cache (1,000 slabs)', () => {
    const next = mulberry32(19);
    const ids = idsFrom(next, 4_000, null, 0);
    const grads = Float32Array.from({ length: 4_000 * 16 }, () => next() / 2 ** 32 - 0.5);
    const r = both(() => {
      const t = table('f32', 16, 4);
      t.pull(ids, new Float32Array(4_000 * 16));
      t.push(ids, grads);
      const out = new Float32Array(4_000 * 16);
      t.pull(ids.slice().reverse(), out); // (hi, lo) swapped: new ids, rows created again
      t.pull(ids, out);
      return Array.from(out);
    });
    expect(r.native).to.deep.equal(r.js);
  });

  it('finds the first non-finite value of a push as the JavaScript does', () => {
    const next = mulberry32(17);
    for (const bad of [NaN, Infinity, -Infinity]) {
      for (const at of [0, 63, 64, 1_000, 4_095]) {
        const grads = Float32Array.from({ length: 4_096 }, () => next() / 2 ** 32 - 0.5);
        grads[at] = bad;
        grads[4_095 - (at % 7)] = NaN; // a later one must not be the one named
        const r = both(() => {
          try {
            checkFinite('t', 'grads', grads, 16, null);
            return 'accepted';
          } catch (err) {
            return (err as Error).message;
          }
        });
        expect(r.native).to.equal(r.js).and.contain(`grads[${Math.min(at, 4_095 - (at % 7))}]`);
      }
    }
    expect(k.firstNonFinite(new Float32Array(100))).to.equal(-1);
  });

  it('dedups ids as the JavaScript does', () => {
    const next = mulberry32(11);
    for (const n of [NATIVE_MIN_ROWS, 1_000, 8_192]) {
      const ids = idsFrom(next, n, idsFrom(next, n >>> 2, null, 0), 0.5);
      const r = both(() => {
        const unique = new Uint32Array(2 * n);
        const inverse = new Uint32Array(n);
        return { count: new Deduper().dedupInto(ids, unique, inverse), unique, inverse };
      });
      expect(r.native).to.deep.equal(r.js);
    }
  });

  it('slices by owner, stitches and gathers rows as the JavaScript does, for odd dims and unaligned views', () => {
    const next = mulberry32(13);
    const map = planShardMap([0, 1, 2].map((id) => ({ id, addr: `ps-${id}:1` })), { numBuckets: 1000 });
    const ids = idsFrom(next, 3_000, null, 0);
    for (const dim of [16, 3]) {
      const src = Float32Array.from({ length: 3_000 * dim }, () => next() / 2 ** 32);
      const picks = Uint32Array.from({ length: 500 }, () => next() % 3_000);
      const r = both(() => {
        const slices = sliceByOwner(ids, map);
        const out = new Float32Array(3_000 * dim + 1).subarray(1); // 4-byte aligned, not 8
        for (const s of slices) stitchRows(s, gatherRows(s, src, dim), dim, out);
        const back = new Float32Array(500 * dim);
        gatherRowsAt(out, back, picks, dim);
        return { slices, out: Array.from(out), back };
      });
      expect(r.native.slices.map((s) => s.psIndex)).to.deep.equal([0, 1, 2]);
      expect(r.native).to.deep.equal(r.js);
      expect(r.native.out).to.deep.equal(Array.from(src));
    }
  });

  it('runs the JavaScript below NATIVE_MIN_ROWS ids and when turned off', () => {
    expect(nativeRows(NATIVE_MIN_ROWS - 1)).to.equal(null);
    expect(nativeRows(NATIVE_MIN_ROWS)).to.equal(k);
    const was = useNativeRows(false);
    try {
      expect(nativeRows(1_000)).to.equal(null);
    } finally {
      useNativeRows(was);
    }
  });

  describe('the addon refuses bad arguments without touching memory', () => {
    it('a row beyond the slabs, or past the end of its slab', () => {
      const out = new Float32Array(32 * 4);
      const slabs = [new Float32Array(4 * 8)];
      const rows = new Int32Array(32);
      rows[5] = 4; // slab 1 does not exist (shift 2: 4 rows per slab)
      expect(() => k.gatherF32(slabs, 2, 8, rows, 32, 4, out, 0)).to.throw(RangeError, /beyond the last slab/);
      rows[5] = 0;
      expect(() => k.gatherF32([new Float32Array(20)], 2, 8, Int32Array.of(3), 1, 4, out, 0)).to.throw(RangeError, /beyond the end of its slab/);
    });

    it('an output too short, a wrong scale, or positions beyond the array', () => {
      expect(() => k.gatherF32([new Float32Array(32)], 2, 8, new Int32Array(4), 4, 4, new Float32Array(15), 0)).to.throw(RangeError, /out is too short/);
      expect(() => k.probeIds(new Uint32Array(48), 0.5, new Uint32Array(2), 1, new Int32Array(1))).to.throw(RangeError, /scale/);
      expect(() => k.copyRowsTo(new Float32Array(4), new Float32Array(8), Uint32Array.of(2), 0, 1, 4)).to.throw(RangeError, /beyond dst/);
      expect(() => k.dedup(new Uint32Array(8), 4, new Uint32Array(4), new Uint32Array(4), new Uint32Array(4), 4, new Uint32Array(8), new Uint32Array(4)))
        .to.throw(RangeError, /power of two >= 2n/);
      expect(() => k.ownersOf(new Uint32Array(2), 1, 1, Uint16Array.of(5), new Uint16Array(1), new Uint32Array(2))).to.throw(RangeError, /beyond counts/);
    });
  });
});
