import { badConfig } from './config-check';
import type { AdagradConfig, Optimizer, OptimizerDescriptor } from './optimizer';

/** TF's default `initial_accumulator_value`. */
export const ADAGRAD_DEFAULT_INITIAL_ACCUMULATOR = 0.1;
/**
 * Default epsilon. Small enough that with the default accumulator (0.1) it changes no float32
 * result; it only guards `0/0` when a caller sets `initialAccumulator: 0`.
 */
export const ADAGRAD_DEFAULT_EPS = 1e-10;

/**
 * Adagrad. State per row: one accumulator per weight (`stateWidth(dim) = dim`).
 *
 * Exact update, per element j, in float64 then rounded to float32:
 * ```
 * acc[j] = acc[j] + g[j]^2
 * w[j]   = w[j] - lr * g[j] / (sqrt(acc[j]) + eps)
 * ```
 * The accumulator is updated first, so the very first step already divides by
 * `sqrt(initialAccumulator + g^2)`, as TF's `ApplyAdagrad` does.
 */
export class AdagradOptimizer implements Optimizer {
  readonly kind = 'adagrad' as const;
  readonly config: Readonly<Required<AdagradConfig>>;
  private readonly lr: number;
  private readonly init: number;
  private readonly eps: number;

  /** `cfg` must already be validated (use `createOptimizer`). */
  constructor(cfg: Required<AdagradConfig>) {
    this.lr = cfg.lr;
    this.init = cfg.initialAccumulator;
    this.eps = cfg.eps;
    this.config = Object.freeze({ kind: 'adagrad', lr: this.lr, initialAccumulator: this.init, eps: this.eps });
  }

  /** One accumulator per weight. */
  stateWidth(dim: number): number {
    return ADAGRAD.stateWidth(dim);
  }

  /**
   * Sets every accumulator to `initialAccumulator`. A loop, not `TypedArray.fill`: for one row's
   * few floats the builtin's call costs about seven times the stores (a PS creating rows).
   */
  initState(_w: Float32Array, _wOff: number, s: Float32Array, sOff: number, dim: number): void {
    const init = this.init;
    for (let j = sOff; j < sOff + dim; j++) s[j] = init;
  }

  /** See the class comment for the formula. */
  apply(
    w: Float32Array, wOff: number,
    s: Float32Array, sOff: number,
    g: Float32Array, gOff: number,
    dim: number,
  ): void {
    const lr = this.lr;
    const eps = this.eps;
    for (let j = 0; j < dim; j++) {
      const gj = g[gOff + j];
      const acc = s[sOff + j] + gj * gj;
      s[sOff + j] = acc;
      w[wOff + j] = w[wOff + j] - (lr * gj) / (Math.sqrt(acc) + eps);
    }
  }
}

/** Adagrad's descriptor. */
export const ADAGRAD: OptimizerDescriptor<AdagradConfig> = Object.freeze({
  kind: 'adagrad',
  params: [
    { key: 'lr', name: 'lr', bounds: { gt: 0 } },
    { key: 'initialAccumulator', name: 'initial_accumulator', bounds: { min: 0 }, default: ADAGRAD_DEFAULT_INITIAL_ACCUMULATOR },
    { key: 'eps', name: 'eps', bounds: { min: 0 }, default: ADAGRAD_DEFAULT_EPS },
  ],
  stateWidth: (dim: number) => dim,
  check(cfg: Required<AdagradConfig>, key: string): void {
    // 0/0 on a zero gradient otherwise.
    if (cfg.initialAccumulator === 0 && cfg.eps === 0) badConfig(`${key}.eps`, 'must be > 0 when initialAccumulator is 0', cfg.eps);
  },
  create: (cfg: Required<AdagradConfig>) => new AdagradOptimizer(cfg),
});
