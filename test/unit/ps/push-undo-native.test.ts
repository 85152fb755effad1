/**
 * Issue 18 §3: the native Adagrad takes a push's undo copy row by row as it updates
 * (`adagradF32`'s `undo`), instead of a gather pass before it. A push refused at its first, a
 * middle or its last distinct row leaves every row, weights and accumulators, exactly as before
 * it, as the JavaScript path does, and the table then goes on alike; a replica's replay keeps no
 * copy; the kernel refuses an undo array too short for the push.
 *
 * Skips when the addon is not built, unless TESSERA_REQUIRE_NATIVE=1 (CI), where that fails.
 */
import { expect } from 'chai';
import { loadNativeRows } from '../../../src/common/native-rows';
import { mulberry32 } from '../../../src/common/mulberry32';
import { EmbeddingTable } from '../../../src/ps/store/embedding-table';
import { bothPaths, requireNativeRowsOrSkip } from '../../helpers/native-rows';

const loaded = loadNativeRows();
const DIM = 16;

/** Every row of `t`, weights and state, as hex in id order. */
function rowsOf(t: EmbeddingTable): string {
  const out: string[] = [];
  t.forEachRow((lo, hi, w, s) => out.push(`${lo}:${hi} ${Buffer.from(w.slice().buffer).toString('hex')}${Buffer.from(s.slice().buffer).toString('hex')}`));
  return out.sort().join('\n');
}

describe('native Adagrad with its undo copy in the same pass (issue 18 §3)', function () {
  this.timeout(20000);
  requireNativeRowsOrSkip();

  for (const at of [0, 400, 799]) {
    it(`rolls back a push refused at distinct row ${at} of 800, weights and accumulators, as the JavaScript does`, () => {
      const r = bothPaths(() => {
        const next = mulberry32(5);
        const t = new EmbeddingTable({ name: 't', dim: DIM, optimizer: { kind: 'adagrad', lr: 0.1 }, seed: 2, slabRows: 256 });
        const ids = Uint32Array.from({ length: 2 * 800 }, () => next());
        const grads = Float32Array.from({ length: 800 * DIM }, () => next() / 2 ** 32 - 0.5);
        t.pull(ids, new Float32Array(800 * DIM));
        t.push(ids, grads);
        const before = rowsOf(t);
        const huge = grads.slice().fill(1e30, at * DIM, (at + 1) * DIM); // its square overflows the accumulator
        let code = '';
        try { t.push(ids, huge); } catch (e) { code = (e as { code?: string }).code ?? ''; }
        const after = rowsOf(t);
        t.push(ids, grads);
        return { code, unchanged: after === before, before, next: rowsOf(t) };
      });
      expect(r.native.code).to.equal('TESSERA_ERR_NON_FINITE');
      expect(r.native.unchanged, 'rolled back').to.equal(true);
      expect(r.js.unchanged).to.equal(true);
      expect(r.native.before === r.js.before, 'before').to.equal(true);
      expect(r.native.next === r.js.next, 'the push after').to.equal(true);
    });
  }

  it('replays without an undo copy as the JavaScript does', () => {
    const r = bothPaths(() => {
      const next = mulberry32(9);
      const t = new EmbeddingTable({ name: 't', dim: DIM, optimizer: { kind: 'adagrad', lr: 0.1 }, seed: 2 });
      const ids = Uint32Array.from({ length: 2 * 500 }, () => next());
      for (let k = 0; k < 3; k++) t.replay(ids, Float32Array.from({ length: 500 * DIM }, () => next() / 2 ** 32 - 0.5));
      return rowsOf(t);
    });
    expect(r.native === r.js).to.equal(true);
  });

  it('refuses an undo array shorter than u rows of stride floats', () => {
    if (!loaded.ok) return;
    const slabs = [new Float32Array(32 * 4)];
    const slots = Int32Array.of(0, 1, 2);
    const g = new Float32Array(3 * 16);
    expect(() => loaded.rows.adagradF32(slabs, 2, 32, 16, slots, 3, g, 0.1, 1e-10, new Float32Array(95))).to.throw(RangeError, /undo holds fewer/);
    const undo = new Float32Array(96);
    slabs[0].fill(0.5, 0, 32);
    expect(loaded.rows.adagradF32(slabs, 2, 32, 16, slots, 3, g.fill(0.25), 0.1, 1e-10, undo)).to.equal(-1);
    expect(Array.from(undo.subarray(0, 32))).to.deep.equal(new Array(32).fill(0.5)); // row 0 as it was
    expect(loaded.rows.adagradF32(slabs, 2, 32, 16, slots, 3, g, 0.1, 1e-10, new Float32Array(0))).to.equal(-1);
  });
});
