/**
 * Issue 13 (bench:ps push back within noise of its figure before issue 23): the all-or-nothing
 * push now saves rows with the float64 gather kernel and checks them with four running sums
 * (`rowFinite`). These tests pin what that faster form must still do: find a NaN or ±Infinity
 * at any position of a row, accept every finite value up to float32's largest, and put back
 * bit-exactly every row of a refused push, in the float64 (even stride) and float32 (odd) paths.
 */
import { expect } from 'chai';
import { createOptimizer } from '../../../src/ps/optimizers/registry';
import { F32RowSlabs } from '../../../src/ps/store/f32-row-slabs';
import { allFinite, rowFinite } from '../../../src/ps/store/row-ops';

const F32_MAX = 3.4028234663852886e38;

describe('rowFinite and the all-or-nothing row update (issue 13)', () => {
  it('finds a non-finite value at every position and offset, and accepts large finite rows', () => {
    for (let n = 0; n <= 9; n++) {
      for (const off of [0, 1, 3]) {
        const a = new Float32Array(off + n + 2).fill(F32_MAX);
        a[0] = NaN; // outside the range checked when off > 0
        a[off + n] = Infinity; // just past it
        if (off > 0) expect(rowFinite(a, off, n), `n ${n} off ${off}`).to.equal(true);
        for (let i = 0; i < n; i++) {
          for (const bad of [NaN, Infinity, -Infinity]) {
            const b = a.slice();
            b[off + i] = bad;
            expect(rowFinite(b, off, n), `n ${n} off ${off}: ${bad} at ${i}`).to.equal(false);
          }
        }
      }
    }
    const mixed = Float32Array.of(F32_MAX, -F32_MAX, F32_MAX, F32_MAX, F32_MAX, -F32_MAX, 1e-45);
    expect(allFinite(mixed)).to.equal(true);
    expect(allFinite(Float32Array.of(Infinity, 0, 0, 0, -Infinity))).to.equal(false);
  });

  for (const dim of [16, 3]) {
    it(`dim ${dim}: a push whose 6th row overflows leaves all 8 rows bit-identical`, () => {
      const slabs = new F32RowSlabs(dim, 0, 4); // SGD: no state; 2 slabs of 4 rows
      const opt = createOptimizer({ kind: 'sgd', lr: 1 });
      const slots = Int32Array.of(6, 1, 7, 0, 4, 2, 5, 3);
      for (let r = 0; r < 8; r++) {
        slabs.ensure(r);
        slabs.write(r, new Float32Array(dim).map((_, j) => (r === 2 ? F32_MAX : 0.25 * r + j / 7)), 0, new Float32Array(0), 0);
      }
      const before = slabs.copySlab(0).weights.slice().buffer;
      const before1 = slabs.copySlab(1).weights.slice().buffer;
      const g = new Float32Array(8 * dim).fill(0.5);
      g.fill(-F32_MAX, 5 * dim, 6 * dim); // slot 2: F32_MAX + F32_MAX overflows float32
      expect(slabs.applyRows(opt, slots, 8, g)).to.equal(5);
      expect(Buffer.from(slabs.copySlab(0).weights.buffer).equals(Buffer.from(before))).to.equal(true);
      expect(Buffer.from(slabs.copySlab(1).weights.buffer).equals(Buffer.from(before1))).to.equal(true);
      g.fill(0.5, 5 * dim, 6 * dim);
      expect(slabs.applyRows(opt, slots, 8, g)).to.equal(-1);
      expect(slabs.copySlab(0).weights[dim]).to.equal(Math.fround(0.25 - 0.5));
    });
  }
});
