import type { AdamConfig, Optimizer, OptimizerDescriptor } from './optimizer';

/** Default first-moment decay. */
export const ADAM_DEFAULT_BETA1 = 0.9;
/** Default second-moment decay. */
export const ADAM_DEFAULT_BETA2 = 0.999;
/** Default epsilon (Kingma & Ba 2015; TF1 `AdamOptimizer` uses the same "epsilon hat"). */
export const ADAM_DEFAULT_EPS = 1e-8;

/** float32 holds every integer up to 2^24 exactly, so the step count is split into two floats. */
const STEP_RADIX = 1 << 24;

/**
 * Lazy (sparse) Adam. Each row keeps its own moments and its own step count `t`, and only rows
 * that receive a gradient are touched: a row not pushed keeps `t`, `m` and `v` unchanged.
 *
 * State layout per row (`stateWidth(dim) = 2*dim + 2`):
 * `[m_0..m_{dim-1} | v_0..v_{dim-1} | tLow | tHigh]` with `t = tHigh * 2^24 + tLow`; both parts
 * are integers below 2^24, so the count is exact up to 2^48 steps. (Two floats also keep the
 * row stride even when `dim` is even, which the table's 8-byte gather relies on.)
 *
 * Per push, in float64 then rounded to float32:
 * ```
 * t    = t + 1
 * m[j] = beta1 * m[j] + (1 - beta1) * g[j]
 * v[j] = beta2 * v[j] + (1 - beta2) * g[j]^2
 * lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
 * w[j] = w[j] - lr_t * m[j] / (sqrt(v[j]) + eps)
 * ```
 */
export class AdamOptimizer implements Optimizer {
  readonly kind = 'adam' as const;
  readonly config: Readonly<Required<AdamConfig>>;
  private readonly lr: number;
  private readonly b1: number;
  private readonly b2: number;
  private readonly eps: number;

  /** `cfg` must already be validated (use `createOptimizer`). */
  constructor(cfg: Required<AdamConfig>) {
    this.lr = cfg.lr;
    this.b1 = cfg.beta1;
    this.b2 = cfg.beta2;
    this.eps = cfg.eps;
    this.config = Object.freeze({ kind: 'adam', lr: this.lr, beta1: this.b1, beta2: this.b2, eps: this.eps });
  }

  /** Two moments per weight plus a two-float step count. */
  stateWidth(dim: number): number {
    return ADAM.stateWidth(dim);
  }

  /** Zero moments, step count 0. */
  initState(_w: Float32Array, _wOff: number, s: Float32Array, sOff: number, dim: number): void {
    s.fill(0, sOff, sOff + 2 * dim + 2);
  }

  /** See the class comment for the formula. */
  apply(
    w: Float32Array, wOff: number,
    s: Float32Array, sOff: number,
    g: Float32Array, gOff: number,
    dim: number,
  ): void {
    const lrT = this.advanceStep(s, sOff, dim);
    const b1 = this.b1;
    const b2 = this.b2;
    const eps = this.eps;
    const vOff = sOff + dim;
    for (let j = 0; j < dim; j++) {
      const gj = g[gOff + j];
      const m = b1 * s[sOff + j] + (1 - b1) * gj;
      const v = b2 * s[vOff + j] + (1 - b2) * gj * gj;
      s[sOff + j] = m;
      s[vOff + j] = v;
      w[wOff + j] = w[wOff + j] - (lrT * m) / (Math.sqrt(v) + eps);
    }
  }

  /**
   * Advances the step count `t` of the row whose state starts at `s[sOff]` and returns this
   * step's `lr_t`: the first half of `apply`, for a caller that runs its loop elsewhere (the
   * native loop over a whole dense table).
   */
  advanceStep(s: Float32Array, sOff: number, dim: number): number {
    const t = AdamOptimizer.readStep(s, sOff, dim) + 1;
    AdamOptimizer.writeStep(s, sOff, dim, t);
    return (this.lr * Math.sqrt(1 - Math.pow(this.b2, t))) / (1 - Math.pow(this.b1, t));
  }

  /** The step count stored in a row's state (tests, checkpoints, debugging). */
  static readStep(s: Float32Array, sOff: number, dim: number): number {
    const at = sOff + 2 * dim;
    return s[at + 1] * STEP_RADIX + s[at];
  }

  /** Stores step count `t` (an integer in [0, 2^48)) into a row's state. */
  static writeStep(s: Float32Array, sOff: number, dim: number, t: number): void {
    const at = sOff + 2 * dim;
    s[at] = t % STEP_RADIX;
    s[at + 1] = Math.floor(t / STEP_RADIX);
  }
}

/** Lazy Adam's descriptor. */
export const ADAM: OptimizerDescriptor<AdamConfig> = Object.freeze({
  kind: 'adam',
  params: [
    { key: 'lr', name: 'lr', bounds: { gt: 0 } },
    { key: 'beta1', name: 'beta1', bounds: { min: 0, lt: 1 }, default: ADAM_DEFAULT_BETA1 },
    { key: 'beta2', name: 'beta2', bounds: { min: 0, lt: 1 }, default: ADAM_DEFAULT_BETA2 },
    { key: 'eps', name: 'eps', bounds: { gt: 0 }, default: ADAM_DEFAULT_EPS },
  ],
  stateWidth: (dim: number) => 2 * dim + 2,
  create: (cfg: Required<AdamConfig>) => new AdamOptimizer(cfg),
});
