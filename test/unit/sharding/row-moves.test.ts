/**
 * Issue 18 §4: the client's row moves (stitching a PS answer into batch order, fanning
 * deduplicated rows out) copy float64 pairs when they can; every path moves the same bits as a
 * float32 loop: even and odd dims, arrays on and off an 8-byte boundary.
 */
import { expect } from 'chai';
import { gatherRowsAt, scatterRows } from '../../../src/sharding/row-moves';

/** [n × dim] of distinct values, optionally a view 4 bytes into a larger buffer (not 8-aligned). */
function rows(n: number, dim: number, offset4: boolean, seed: number): Float32Array {
  const a = new Float32Array(new ArrayBuffer(4 * (n * dim + 1)), offset4 ? 4 : 0, n * dim);
  for (let i = 0; i < a.length; i++) a[i] = seed + i * 0.25 - 7;
  return a;
}

describe('row moves (issue 18)', () => {
  for (const dim of [16, 8, 5, 1, 3]) {
    for (const off of [false, true]) {
      it(`dim ${dim}, ${off ? 'unaligned' : 'aligned'}: scatter and gather match a float32 loop`, () => {
        const n = 37;
        const src = rows(n, dim, off, 1);
        const at = Uint32Array.from({ length: n }, (_, k) => (k * 11) % n); // a permutation of 0..n-1
        const out = rows(n, dim, !off, 100);
        const want = out.slice();
        for (let k = 3; k < 30; k++) for (let d = 0; d < dim; d++) want[at[k] * dim + d] = src[(k - 3) * dim + d];
        scatterRows(src, out, at, 3, 30, dim);
        expect(Array.from(out)).to.deep.equal(Array.from(want));

        const from = Uint32Array.from({ length: 50 }, (_, i) => (i * 7) % n); // repeats: a fan-out
        const fanned = rows(50, dim, off, 0);
        gatherRowsAt(src, fanned, from, dim);
        from.forEach((r, i) => expect(Array.from(fanned.subarray(i * dim, (i + 1) * dim))).to.deep.equal(Array.from(src.subarray(r * dim, (r + 1) * dim))));
      });
    }
  }
});
