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
import { bucketsOf, firstNotOwned } from '../../../src/sharding/buckets';
import { Deduper } from '../../../src/sharding/dedup';
import { gatherRowsAt } from '../../../src/sharding/row-moves';
import { planShardMap } from '../../../src/sharding/shard-map';
import { gatherRows, sliceByOwner, stitchRows } from '../../../src/sharding/slicer';
import type { WeightFormat } from '../../../src/ps/store/row-storage';
import { bothPaths as both } from '../../helpers/native-rows';

const loaded = loadNativeRows();

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

  it('probes and gathers a pull of rows already present in one pass, as probing then gathering does, past the kernels\' slab cache', () => {
    const next = mulberry32(19);
    const t = table('f32', 6, 4); // 4 rows a slab: 3,000 rows span 750 slabs
    const ids = idsFrom(next, 3_000, null, 0);
    t.pull(ids, new Float32Array(3_000 * 6)); // creates them
    t.push(ids, Float32Array.from({ length: 3_000 * 6 }, () => next() / 2 ** 32 - 0.5));
    const again = idsFrom(next, 2_000, ids, 1); // present ids only, with repeats
    const r = both(() => {
      const out = new Float32Array(5 + 2_000 * 6).fill(7);
      t.pull(again, out, 5);
      return Array.from(out);
    });
    expect(r.native).to.deep.equal(r.js);
    expect(r.native.slice(0, 5)).to.deep.equal([7, 7, 7, 7, 7]);
    // The pass itself: every id found (0 absent), the same rows and values as findAll then gather.
    const index = new IdIndex();
    const slabs = Array.from({ length: 4 }, () => new Float32Array(8 * 4)); // 4 slabs of 4 rows, stride 8
    slabs.forEach((sl, k) => sl.forEach((_, j) => { sl[j] = 100 * k + j; }));
    const some = idsFrom(next, 40, null, 0);
    for (let i = 0; i < 16; i++) index.findOrInsert(some[2 * i], some[2 * i + 1], 15 - i);
    const rows = new Int32Array(40);
    const out = new Float32Array(40 * 3);
    const layout = { slabs, shift: 2, stride: 8, dim: 3 };
    expect(index.findAllGathered(some.subarray(0, 32), 16, rows, layout, out, 0)).to.equal(0);
    const want = new Float32Array(40 * 3);
    for (let i = 0; i < 16; i++) want.set(slabs[(15 - i) >> 2].subarray(((15 - i) & 3) * 8, ((15 - i) & 3) * 8 + 3), 3 * i);
    expect(Array.from(rows.subarray(0, 16))).to.deep.equal(Array.from({ length: 16 }, (_, i) => 15 - i));
    expect(Array.from(out)).to.deep.equal(Array.from(want));
    out.fill(-1);
    expect(index.findAllGathered(some, 40, rows, layout, out, 0), 'ids 16-39 absent').to.equal(24);
    expect(Array.from(out.subarray(0, 48))).to.deep.equal(Array.from(want.subarray(0, 48)));
    expect(out.subarray(48).every((v) => v === -1), 'absent ids\' rows not written').to.equal(true);
  });

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

  it('dedups and slices by owner in one pass as the JavaScript does, with one Deduper reused across batches (issue 18 §1)', () => {
    const next = mulberry32(12);
    const map = planShardMap([0, 1, 2].map((id) => ({ id, addr: `ps-${id}:1` })), { numBuckets: 1000 });
    // Later batches repeat ids of earlier ones: a slot left by an earlier call must read as empty.
    const pool = idsFrom(next, 2_000, null, 0);
    const batches = [8_192, 1_000, 2 * NATIVE_MIN_ROWS, 5_000, 8_192].map((n) => idsFrom(next, n, pool, 0.6));
    const runs = both(() => {
      const dd = new Deduper();
      return batches.map((ids) => {
        const n = ids.length >>> 1;
        const unique = new Uint32Array(2 * n).fill(7);
        const inverse = new Uint32Array(n).fill(7);
        const dirty = (words: number) => new Uint32Array(words + 3).fill(0xdeadbeef).subarray(3); // reused, not at its buffer's start
        const { count, slices } = dd.dedupAndSlice(ids, unique, inverse, map, dirty);
        return { count, unique: Array.from(unique.subarray(0, 2 * count)), inverse, slices: slices.map((s) => [s.psIndex, Array.from(s.ids), Array.from(s.positions)]) };
      });
    });
    expect(runs.native).to.deep.equal(runs.js);
    expect(runs.native.map((r) => r.count < r.inverse.length)).to.deep.equal([true, true, false, true, true]); // repeats, but not in the smallest
    for (const [b, r] of runs.native.entries()) {
      const fresh = new Uint32Array(2 * r.inverse.length), inv = new Uint32Array(r.inverse.length);
      const count = new Deduper().dedupInto(batches[b], fresh, inv);
      expect([r.count, r.unique, r.inverse]).to.deep.equal([count, Array.from(fresh.subarray(0, 2 * count)), inv]);
      const sliced = sliceByOwner(fresh.subarray(0, 2 * count), map).map((s) => [s.psIndex, Array.from(s.ids), Array.from(s.positions)]);
      expect(r.slices).to.deep.equal(sliced);
    }
  });

  it('a Deduper whose stamp wraps clears its table and still dedups exactly', () => {
    const next = mulberry32(14);
    const ids = idsFrom(next, 4_000, idsFrom(next, 500, null, 0), 0.5);
    const expected = new Deduper();
    const u0 = new Uint32Array(8_000), i0 = new Uint32Array(4_000);
    const count = expected.dedupInto(ids, u0, i0);
    for (const native of [false, true]) {
      const was = useNativeRows(native);
      try {
        const dd = new Deduper();
        dd.dedupInto(ids, new Uint32Array(8_000), new Uint32Array(4_000));
        (dd as unknown as { stamp: number }).stamp = 0xfffffffe; // private: the stamp of the 2^32 - 2nd call
        for (let call = 0; call < 3; call++) {
          const u = new Uint32Array(8_000), inv = new Uint32Array(4_000);
          expect(dd.dedupInto(ids, u, inv)).to.equal(count);
          expect([u, inv]).to.deep.equal([u0, i0]);
        }
      } finally {
        useNativeRows(was);
      }
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

  it('finds the first id of a bucket the PS does not own as the JavaScript does', () => {
    const next = mulberry32(17);
    for (const numBuckets of [1, 1000, 4096, 65536]) {
      const ids = idsFrom(next, 8_192, null, 0);
      const buckets = new Uint32Array(8_192);
      bucketsOf(ids, numBuckets, buckets);
      const owned = new Uint8Array(numBuckets).fill(1);
      const all = both(() => firstNotOwned(ids, 8_192, owned));
      expect(all).to.deep.equal({ js: -1, native: -1 });
      for (const at of [0, 4_000, 8_191]) {
        const o = Uint8Array.from(owned);
        for (let i = 0; i < 8_192; i++) if (i >= at && next() % 3 === 0) o[buckets[i]] = 0;
        o[buckets[at]] = 0;
        const r = both(() => firstNotOwned(ids, 8_192, o));
        expect(r.native).to.equal(r.js);
        expect(r.js).to.be.at.most(at); // an earlier id may share a bucket given up later
        expect(o[buckets[r.js]]).to.equal(0);
      }
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
      expect(() => k.dedup(new Uint32Array(8), 4, new Uint32Array(16), 4, 1, new Uint32Array(8), new Uint32Array(4)))
        .to.throw(RangeError, /power of two >= 2n/);
      expect(() => k.dedup(new Uint32Array(8), 4, new Uint32Array(16), 8, 1, new Uint32Array(8), new Uint32Array(4)))
        .to.throw(RangeError, /within the table/);
      const dedupSlice = (owner: Uint16Array, words: number) => () =>
        k.dedupSlice(new Uint32Array(2), 1, new Uint32Array(16), 4, 1, new Uint32Array(2), new Uint32Array(1), 1, owner, new Uint16Array(1), new Uint32Array(2), new Uint32Array(words));
      expect(dedupSlice(Uint16Array.of(5), 3)).to.throw(RangeError, /beyond counts/);
      expect(dedupSlice(Uint16Array.of(1), 2)).to.throw(RangeError, /words fewer than 3n/);
      expect(dedupSlice(Uint16Array.of(1), 3)()).to.equal(1);
      expect(() => k.firstNotOwned(new Uint32Array(2), 2, new Uint8Array(4))).to.throw(RangeError, /fewer than n ids/);
      expect(() => k.firstNotOwned(new Uint32Array(2), 1, new Uint8Array(0))).to.throw(RangeError, /1 to 65,536 buckets/);
    });
  });
});
