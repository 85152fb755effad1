import type { Optimizer, OptimizerDescriptor, SgdConfig } from './optimizer';

/**
 * Plain stochastic gradient descent: `w[j] -= lr * g[j]`. Keeps no state.
 *
 * ```ts
 * const sgd = new SgdOptimizer({ kind: 'sgd', lr: 0.1 });
 * ```
 */
export class SgdOptimizer implements Optimizer {
  readonly kind = 'sgd' as const;
  readonly config: Readonly<Required<SgdConfig>>;
  private readonly lr: number;

  /** `cfg` must already be validated (use `createOptimizer`). */
  constructor(cfg: Required<SgdConfig>) {
    this.config = Object.freeze({ kind: 'sgd', lr: cfg.lr });
    this.lr = cfg.lr;
  }

  /** SGD keeps no state. */
  stateWidth(dim: number): number {
    return SGD.stateWidth(dim);
  }

  /** Nothing to initialise. */
  initState(_w: Float32Array, _wOff: number, _s: Float32Array, _sOff: number, _dim: number): void {
    // no state
  }

  /** `w -= lr * g`, computed in float64 and stored as float32. */
  apply(
    w: Float32Array, wOff: number,
    _s: Float32Array, _sOff: number,
    g: Float32Array, gOff: number,
    dim: number,
  ): void {
    const lr = this.lr;
    for (let j = 0; j < dim; j++) w[wOff + j] = w[wOff + j] - lr * g[gOff + j];
  }
}

/** SGD's descriptor: `lr > 0`, no state. */
export const SGD: OptimizerDescriptor<SgdConfig> = Object.freeze({
  kind: 'sgd',
  params: [{ key: 'lr', name: 'lr', bounds: { gt: 0 } }],
  stateWidth: (_dim: number) => 0,
  create: (cfg: Required<SgdConfig>) => new SgdOptimizer(cfg),
});
