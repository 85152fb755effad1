import type { FtrlConfig, Optimizer, OptimizerDescriptor } from './optimizer';

/** Default `beta` (McMahan et al. 2013 suggest 1; TF/Keras default to 0). */
export const FTRL_DEFAULT_BETA = 0;
/** TF's default `initial_accumulator_value`; keeps the first denominator non-zero. */
export const FTRL_DEFAULT_INITIAL_ACCUMULATOR = 0.1;

/**
 * FTRL-Proximal (McMahan et al. 2013, "Ad Click Prediction: a View from the Trenches",
 * Algorithm 1) with TensorFlow's `ApplyFtrl` bookkeeping (learning-rate power -0.5): the weight
 * is stored and used in the `sigma * w` term, and the `n` accumulator starts at
 * `initialAccumulator` (default 0.1) instead of 0.
 *
 * State per row (`stateWidth(dim) = 2*dim`): `[z_0..z_{dim-1} | n_0..n_{dim-1}]`.
 *
 * Per element j, in float64 then rounded to float32:
 * ```
 * n'    = n + g^2
 * sigma = (sqrt(n') - sqrt(n)) / alpha
 * z     = z + g - sigma * w
 * n     = n'
 * w     = |z| <= l1 ? 0 : -(z - sign(z) * l1) / ((beta + sqrt(n)) / alpha + l2)
 * ```
 * `l2` is the paper's lambda_2. TF's `l2_regularization_strength` s enters its denominator as
 * `2*s`, so TF's s corresponds to `l2 = 2*s` here; TF/Keras `beta` is the same as ours.
 */
export class FtrlOptimizer implements Optimizer {
  readonly kind = 'ftrl' as const;
  readonly config: Readonly<Required<FtrlConfig>>;
  private readonly alpha: number;
  private readonly beta: number;
  private readonly l1: number;
  private readonly l2: number;
  private readonly n0: number;

  /** `cfg` must already be validated (use `createOptimizer`). */
  constructor(cfg: Required<FtrlConfig>) {
    this.alpha = cfg.alpha;
    this.beta = cfg.beta;
    this.l1 = cfg.l1;
    this.l2 = cfg.l2;
    this.n0 = cfg.initialAccumulator;
    this.config = Object.freeze({
      kind: 'ftrl', alpha: this.alpha, beta: this.beta, l1: this.l1, l2: this.l2, initialAccumulator: this.n0,
    });
  }

  /** `z` and `n` per weight. */
  stateWidth(dim: number): number {
    return FTRL.stateWidth(dim);
  }

  /** `z = 0`, `n = initialAccumulator`; the initialiser's weights are kept until the first push. */
  initState(_w: Float32Array, _wOff: number, s: Float32Array, sOff: number, dim: number): void {
    s.fill(0, sOff, sOff + dim);
    s.fill(this.n0, sOff + dim, sOff + 2 * dim);
  }

  /** See the class comment for the formula. */
  apply(
    w: Float32Array, wOff: number,
    s: Float32Array, sOff: number,
    g: Float32Array, gOff: number,
    dim: number,
  ): void {
    const { alpha, beta, l1, l2 } = this;
    const nOff = sOff + dim;
    for (let j = 0; j < dim; j++) {
      const gj = g[gOff + j];
      const n = s[nOff + j];
      const n2 = n + gj * gj;
      const sqrtN2 = Math.sqrt(n2);
      const sigma = (sqrtN2 - Math.sqrt(n)) / alpha;
      const z = s[sOff + j] + gj - sigma * w[wOff + j];
      s[sOff + j] = z;
      s[nOff + j] = n2;
      if (Math.abs(z) <= l1) {
        w[wOff + j] = 0;
      } else {
        const shrunk = z > 0 ? z - l1 : z + l1;
        w[wOff + j] = -shrunk / ((beta + sqrtN2) / alpha + l2);
      }
    }
  }
}

/** FTRL-Proximal's descriptor. */
export const FTRL: OptimizerDescriptor<FtrlConfig> = Object.freeze({
  kind: 'ftrl',
  params: [
    { key: 'alpha', name: 'alpha', bounds: { gt: 0 } },
    { key: 'beta', name: 'beta', bounds: { min: 0 }, default: FTRL_DEFAULT_BETA },
    { key: 'l1', name: 'l1', bounds: { min: 0 }, default: 0 },
    { key: 'l2', name: 'l2', bounds: { min: 0 }, default: 0 },
    { key: 'initialAccumulator', name: 'initial_accumulator', bounds: { min: 0 }, default: FTRL_DEFAULT_INITIAL_ACCUMULATOR },
  ],
  stateWidth: (dim: number) => 2 * dim,
  create: (cfg: Required<FtrlConfig>) => new FtrlOptimizer(cfg),
});
