/**
 * Issue 18 §3: the dense table's native Adam takes the push's undo copy in its own pass
 * (`adamDense`, native/rows/dense_kernels.c). A refused push, whichever element overflows, leaves
 * weights, moments and step count exactly as the JavaScript path leaves them; the kernel refuses
 * an undo array too short for it or one that overlaps what it updates.
 *
 * Skips when the addon is not built, unless TESSERA_REQUIRE_NATIVE=1 (CI), where that fails.
 */
import { expect } from 'chai';
import { loadNativeRows } from '../../../src/common/native-rows';
import { bothPaths, requireNativeRowsOrSkip } from '../../helpers/native-rows';
import { mulberry32 } from '../../../src/common/mulberry32';
import { DenseTable } from '../../../src/ps/store/dense-table';

const loaded = loadNativeRows();

/** Weights and state of `t` as bytes. */
const bytesOf = (t: DenseTable): Buffer => Buffer.concat([Buffer.from(t.values.slice().buffer), Buffer.from(t.state.slice().buffer)]);

describe('dense table native Adam with its undo copy (issue 18 §3)', () => {
  requireNativeRowsOrSkip();

  it('rolls back a push that overflows at its first, a middle or its last element, as the JavaScript does', () => {
    const size = 1_001;
    const next = mulberry32(7);
    const g = Float32Array.from({ length: size }, () => (next() / 2 ** 32 - 0.5) * 0.1);
    for (const at of [0, 500, size - 1]) {
      const { js, native } = bothPaths(() => {
        const t = new DenseTable({ name: 'mlp', size, optimizer: { kind: 'adam', lr: 0.01 }, seed: 3 });
        t.push(g);
        t.push(g);
        const before = bytesOf(t);
        const huge = g.slice();
        huge[at] = 3e38;
        let code = '';
        try { t.push(huge); } catch (e) { code = (e as { code?: string }).code ?? ''; }
        const after = bytesOf(t);
        t.push(g); // the table goes on from where it was, step count included
        return { before, after, code, next: bytesOf(t) };
      });
      expect(native.code, `element ${at}`).to.equal('TESSERA_ERR_NON_FINITE');
      expect(js.code).to.equal(native.code);
      expect(native.after.equals(native.before), `element ${at}: rolled back`).to.equal(true);
      expect(native.before.equals(js.before), `element ${at}: before`).to.equal(true);
      expect(native.next.equals(js.next), `element ${at}: the push after`).to.equal(true);
    }
  });

  it('refuses an undo array shorter than 3 * w.length, or one overlapping w, s or g', () => {
    if (!loaded.ok) return;
    const k = loaded.rows;
    const w = new Float32Array(32);
    const s = new Float32Array(66);
    const g = new Float32Array(32);
    expect(() => k.adamDense(w, s, g, new Float32Array(95), 0.9, 0.999, 1e-8, 0.001)).to.throw(RangeError, /undo fewer than 3/);
    const shared = new Float32Array(200);
    expect(() => k.adamDense(shared.subarray(0, 32), s, g, shared.subarray(16, 112), 0.9, 0.999, 1e-8, 0.001)).to.throw(RangeError, /overlap/);
    expect(() => k.adamDense(w, s, shared.subarray(100, 132), shared.subarray(50, 146), 0.9, 0.999, 1e-8, 0.001)).to.throw(RangeError, /overlap/);
    expect(k.adamDense(w, s, g, shared.subarray(0, 96), 0.9, 0.999, 1e-8, 0.001)).to.equal(1);
  });
});
