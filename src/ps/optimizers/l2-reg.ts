/**
 * The L2 penalty every optimizer takes (`l2_reg`), applied lazily: a push adds `l2Reg · w` to the
 * summed gradient of each row it touches, before clipping and the optimizer's own update, so the
 * rows a batch does not touch are left alone (no PS-wide sweep). It is the gradient of
 * `l2Reg / 2 · ‖w‖²` charged once per push of the row; for SGD it is weight decay by `lr · l2Reg`,
 * for the adaptive optimizers the penalty's gradient is scaled like the data's. Like `clip_norm` it
 * wraps any optimizer and the registry adds the key to every descriptor, so it crosses the YAML,
 * the wire and the checkpoint manifest like the optimizer's own keys. (FTRL's own `l2` is the
 * proximal L2 of its closed form; `l2_reg` adds to the gradient it sees, like for the others.)
 */
import { GradientWrapper, withCommonKey } from './gradient-wrapper';
import type { Optimizer, OptimizerDescriptor, OptimizerParam } from './optimizer';

/** `l2_reg`: optional, >= 0. */
export const L2_REG_PARAM = Object.freeze({ key: 'l2Reg', name: 'l2_reg', bounds: { min: 0 }, optional: true } as const satisfies OptimizerParam);

/**
 * `inner` with the lazy L2 penalty `l2Reg`.
 *
 * ```ts
 * const opt = new L2RegOptimizer(createOptimizer({ kind: 'sgd', lr: 0.1 }), 0.5);
 * opt.apply(w, 0, s, 0, grad, 0, dim); // w -= 0.1 · (grad + 0.5 · w)
 * ```
 */
export class L2RegOptimizer extends GradientWrapper {
  constructor(inner: Optimizer, private readonly l2Reg: number) {
    super(inner, { l2Reg });
  }

  /** Applies `g + l2Reg · w` (in float64, rounded to float32 once) through the inner optimizer. */
  apply(w: Float32Array, wOff: number, s: Float32Array, sOff: number, g: Float32Array, gOff: number, dim: number): void {
    if (this.l2Reg === 0) {
      this.inner.apply(w, wOff, s, sOff, g, gOff, dim);
      return;
    }
    const c = this.scratchRow(dim);
    for (let j = 0; j < dim; j++) c[j] = g[gOff + j] + this.l2Reg * w[wOff + j];
    this.inner.apply(w, wOff, s, sOff, c, 0, dim);
  }
}

/**
 * `d` with the common `l2_reg` key added to its keys and to what it creates. The penalty is added
 * before whatever `d` creates runs, so a clipped optimizer clips the penalised gradient.
 */
export function withL2Reg(d: OptimizerDescriptor): OptimizerDescriptor {
  return withCommonKey(d, L2_REG_PARAM, (inner, v) => new L2RegOptimizer(inner, v));
}
