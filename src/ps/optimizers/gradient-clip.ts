/**
 * The gradient clip every optimizer takes (`clip_norm`): a row's summed gradient whose L2 norm
 * exceeds `clipNorm` is scaled to norm `clipNorm` before the optimizer sees it. It wraps any
 * optimizer, so each optimizer module stays one formula, and the registry adds the key to every
 * descriptor, so it crosses the YAML, the wire and the manifest like the optimizer's own keys.
 *
 * Clipping bounds one step; it cannot make an update finite whatever the state (an Adagrad
 * accumulator can still overflow over many steps). The table refuses any update that would
 * still leave a non-finite weight or state (RowStorage.applyRows).
 */
import { GradientWrapper, withCommonKey } from './gradient-wrapper';
import type { Optimizer, OptimizerDescriptor, OptimizerParam } from './optimizer';

/** `clip_norm`: optional, > 0. */
export const CLIP_NORM_PARAM = Object.freeze({ key: 'clipNorm', name: 'clip_norm', bounds: { gt: 0 }, optional: true } as const satisfies OptimizerParam);

/**
 * `inner` with per-row gradient clipping at L2 norm `clipNorm`.
 *
 * ```ts
 * const opt = new ClippedOptimizer(createOptimizer({ kind: 'sgd', lr: 1 }), 1);
 * opt.apply(w, 0, s, 0, Float32Array.of(3, 4), 0, 2); // applies (0.6, 0.8)
 * ```
 */
export class ClippedOptimizer extends GradientWrapper {
  constructor(inner: Optimizer, private readonly clipNorm: number) {
    super(inner, { clipNorm });
  }

  /**
   * Clips gradient row `g[gOff..gOff+dim)` (norm in float64) into a scratch row and applies it.
   * A row whose norm is not finite (summed duplicates overflowed float32) goes through as it is,
   * and the table refuses the update it makes.
   */
  apply(w: Float32Array, wOff: number, s: Float32Array, sOff: number, g: Float32Array, gOff: number, dim: number): void {
    let sq = 0;
    for (let j = 0; j < dim; j++) sq += g[gOff + j] * g[gOff + j];
    const norm = Math.sqrt(sq);
    if (!(norm > this.clipNorm) || norm === Infinity) {
      this.inner.apply(w, wOff, s, sOff, g, gOff, dim);
      return;
    }
    const scale = this.clipNorm / norm;
    const c = this.scratchRow(dim);
    for (let j = 0; j < dim; j++) c[j] = g[gOff + j] * scale;
    this.inner.apply(w, wOff, s, sOff, c, 0, dim);
  }
}

/**
 * `d` with the common `clip_norm` key added to its keys and to what it creates: the registry's
 * form of every descriptor.
 */
export function withGradientClip(d: OptimizerDescriptor): OptimizerDescriptor {
  return withCommonKey(d, CLIP_NORM_PARAM, (inner, v) => new ClippedOptimizer(inner, v));
}
