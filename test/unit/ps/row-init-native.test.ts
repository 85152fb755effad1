/**
 * Issue 18 §3: a pull's new rows are initialised together after its index pass
 * (`RowSlots.initClaimed`), natively for the uniform initializer with Adagrad
 * (`initUniformF32`, native/rows/store_kernels.c). Every created row, weights and optimizer
 * state, has the bits `initRow` and `initState` give it one by one, with new, present and
 * repeated ids in a batch, seeds past 2^31 and odd dims; the kernel refuses what it cannot write.
 *
 * Skips when the addon is not built, unless TESSERA_REQUIRE_NATIVE=1 (CI), where that fails.
 */
import { expect } from 'chai';
import { loadNativeRows } from '../../../src/common/native-rows';
import { bothPaths, requireNativeRowsOrSkip } from '../../helpers/native-rows';
import { mulberry32 } from '../../../src/common/mulberry32';
import { EmbeddingTable } from '../../../src/ps/store/embedding-table';
import { InitializerConfig, initRow } from '../../../src/ps/store/initializers';
import type { OptimizerConfig } from '../../../src/ps/optimizers/optimizer';

const loaded = loadNativeRows();

/** Every row of `t` as `lo:hi weights-bits | state-bits`, in id order. */
function rowsOf(t: EmbeddingTable): string[] {
  const out: string[] = [];
  t.forEachRow((lo, hi, w, s) => {
    out.push(`${lo}:${hi} ${Buffer.from(w.slice().buffer).toString('hex')}|${Buffer.from(s.slice().buffer).toString('hex')}`);
  });
  return out.sort();
}

/** Pulls 6 batches of 3,000 ids into a fresh table: new ones, repeats within a batch, and ids pulled before. */
function grow(dim: number, initializer: InitializerConfig, optimizer: OptimizerConfig, seed: number): { rows: string[]; pulled: Float32Array[] } {
  const t = new EmbeddingTable({ name: 't', dim, optimizer, initializer, seed, slabRows: 1024 });
  const next = mulberry32(dim * 7 + 1);
  const pulled: Float32Array[] = [];
  let prev = new Uint32Array(0);
  for (let b = 0; b < 6; b++) {
    const ids = new Uint32Array(2 * 3_000);
    for (let i = 0; i < 3_000; i++) {
      const from = i % 5 === 0 && prev.length > 0 ? prev : i % 7 === 0 && i > 0 ? ids : null;
      const k = from ? (next() % Math.max(1, from === ids ? i : prev.length / 2)) : -1;
      ids[2 * i] = from ? from[2 * k] : next();
      ids[2 * i + 1] = from ? from[2 * k + 1] : i % 3 === 0 ? 0 : next();
    }
    const out = new Float32Array(3_000 * dim);
    t.pull(ids, out);
    pulled.push(out);
    prev = ids;
  }
  return { rows: rowsOf(t), pulled };
}

/** `grow` with the JavaScript loops, then with the native kernels. */
function both(dim: number, initializer: InitializerConfig, optimizer: OptimizerConfig, seed: number) {
  return bothPaths(() => grow(dim, initializer, optimizer, seed));
}

describe('new rows initialised together, natively (issue 18 §3)', function () {
  this.timeout(30000);
  requireNativeRowsOrSkip();

  for (const dim of [16, 3]) {
    it(`gives every new row of dim ${dim} the bits of initRow and Adagrad's initState, seed past 2^31`, () => {
      const init: InitializerConfig = { kind: 'uniform', scale: 0.05 };
      const seed = 3_000_000_123;
      const r = both(dim, init, { kind: 'adagrad', lr: 0.1, initialAccumulator: 0.37 }, seed);
      expect(r.native.rows.length).to.be.above(12_000);
      expect(r.native.rows).to.deep.equal(r.js.rows);
      r.native.pulled.forEach((p, b) => expect(Buffer.from(p.buffer).equals(Buffer.from(r.js.pulled[b].buffer)), `batch ${b}`).to.equal(true));
      // And the reference, one row by hand: initRow's weights, the accumulator rounded to float32.
      const [id, bits] = r.native.rows[100].split(' ');
      const [lo, hi] = id.split(':').map(Number);
      const w = new Float32Array(dim);
      initRow(init, seed, lo, hi, w, 0, dim);
      const s = new Float32Array(dim).fill(0.37);
      expect(bits).to.equal(`${Buffer.from(w.buffer).toString('hex')}|${Buffer.from(s.buffer).toString('hex')}`);
    });
  }

  it('keeps the one-by-one path for other initializers and optimizers, with the same rows', () => {
    for (const [init, opt] of [
      [{ kind: 'normal', std: 0.1 }, { kind: 'adagrad', lr: 0.1 }],
      [{ kind: 'uniform', scale: 0.01 }, { kind: 'ftrl', alpha: 0.1 }],
      [{ kind: 'zeros' }, { kind: 'adam', lr: 0.01 }],
    ] as [InitializerConfig, OptimizerConfig][]) {
      const r = both(4, init, opt, 9);
      expect(r.native.rows, init.kind).to.deep.equal(r.js.rows);
    }
  });

  it('refuses negative rows, rows beyond the slabs, short ids and a dim past the stride', () => {
    if (!loaded.ok) return;
    const k = loaded.rows;
    const slabs = [new Float32Array(4 * 8)];
    const ids = new Uint32Array(4);
    expect(() => k.initUniformF32(slabs, 2, 8, 4, Int32Array.of(0, -1), ids, 2, 1, 0.01, 0.1)).to.throw(RangeError, /negative/);
    expect(() => k.initUniformF32(slabs, 2, 8, 4, Int32Array.of(0, 4), ids, 2, 1, 0.01, 0.1)).to.throw(RangeError);
    expect(() => k.initUniformF32(slabs, 2, 8, 4, Int32Array.of(0, 1), ids.subarray(0, 3), 2, 1, 0.01, 0.1)).to.throw(RangeError, /fewer than k/);
    expect(() => k.initUniformF32(slabs, 2, 8, 9, Int32Array.of(0, 1), ids, 2, 1, 0.01, 0.1)).to.throw(RangeError, /stride/);
    const fresh = [new Float32Array(4 * 8)];
    k.initUniformF32(fresh, 2, 8, 4, Int32Array.of(3, 1), ids, 2, 1, 0.01, 0.1);
    expect(fresh[0][3 * 8 + 4]).to.equal(Math.fround(0.1));
    expect(fresh[0][1 * 8]).to.not.equal(0);
    expect(Array.from(fresh[0].subarray(0, 8))).to.deep.equal(new Array(8).fill(0)); // row 0 untouched
  });
});
