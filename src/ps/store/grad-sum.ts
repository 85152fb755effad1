/**
 * Sums the gradient rows of a push that target the same row slot, so the optimizer runs once per
 * distinct row. Scratch buffers are reused across calls (one GradSum per table). Where the native
 * addon is built (src/common/native-rows.ts) the same sums run there.
 */
import { nativeRows } from '../../common/native-rows';
import { growInt32 } from './row-ops';

/** Duplicate-summing scratch of one table. */
export class GradSum {
  /** Distinct slots of the last `sum`, in first-occurrence order. */
  uniq: Int32Array = new Int32Array(0);
  /** Summed gradient rows, `uniq[k]`'s at `[k*dim, (k+1)*dim)`. */
  gsum: Float32Array = new Float32Array(0);
  private dedup: Int32Array = new Int32Array(0);

  constructor(private readonly dim: number) {}

  /**
   * Sums gradient rows of equal row slots into `gsum` (float32, in input order) and lists the
   * distinct slots in `uniq`; slots < 0 (gradients to drop) are skipped. A scratch
   * open-addressing set keyed by slot finds duplicates without sorting. Returns the count.
   */
  sum(rows: Int32Array, n: number, grads: Float32Array): number {
    const dim = this.dim;
    let bits = 4;
    while (1 << bits < 2 * n) bits++;
    if (this.dedup.length < 1 << bits) this.dedup = new Int32Array(1 << bits);
    if (this.uniq.length < n) this.uniq = growInt32(n);
    if (this.gsum.length < n * dim) this.gsum = new Float32Array(this.uniq.length * dim);
    const { dedup, uniq, gsum } = this;
    const mask = (1 << bits) - 1;
    dedup.fill(-1, 0, mask + 1);
    const native = nativeRows(n);
    if (native) return native.sumGrads(rows, n, grads, dim, dedup, bits, uniq, gsum);
    let u = 0;
    for (let i = 0; i < n; i++) {
      const r = rows[i];
      if (r < 0) continue;
      let h = Math.imul(r, 0x9e3779b1) >>> (32 - bits);
      let k = dedup[h];
      while (k >= 0 && uniq[k] !== r) {
        h = (h + 1) & mask;
        k = dedup[h];
      }
      const g = i * dim;
      if (k < 0) {
        dedup[h] = u;
        uniq[u] = r;
        const s = u * dim;
        for (let j = 0; j < dim; j++) gsum[s + j] = grads[g + j];
        u++;
      } else {
        const s = k * dim;
        for (let j = 0; j < dim; j++) gsum[s + j] += grads[g + j];
      }
    }
    return u;
  }
}
