/**
 * The optimizer contract used by every table on a parameter server, and the descriptor each
 * optimizer module exports (its kind, hyper-parameters, state width and factory; registry.ts
 * registers them).
 *
 * Tables lay each row out as `[weights | state]` inside one large Float32Array slab, so an optimizer
 * never owns memory: it is told where a row's weights, its state and its gradient live and updates
 * them in place. Weights and state may be the same array at different offsets; implementations
 * read and write element `j` of each region only, so non-overlapping regions of one array are safe.
 *
 * Arithmetic happens in float64 locals and is rounded to float32 once per stored value.
 */
import type { NumberBounds } from './config-check';

/** Plain SGD: `w -= lr * g`. */
export interface SgdConfig {
  kind: 'sgd';
  lr: number;
}

/** Adagrad (Duchi et al. 2011), TF v1 semantics plus an epsilon. See adagrad.ts for the formula. */
export interface AdagradConfig {
  kind: 'adagrad';
  lr: number;
  /** starting value of the squared-gradient accumulator; default 0.1 (TF's default) */
  initialAccumulator?: number;
  /** added to `sqrt(acc)` in the denominator; default 1e-10 */
  eps?: number;
}

/** Lazy Adam: moments and the step count are per row, so rows not pushed do not decay. */
export interface AdamConfig {
  kind: 'adam';
  lr: number;
  /** default 0.9 */
  beta1?: number;
  /** default 0.999 */
  beta2?: number;
  /** default 1e-8 */
  eps?: number;
}

/** FTRL-Proximal (McMahan et al. 2013) with TensorFlow's `ApplyFtrl` semantics (power -0.5). */
export interface FtrlConfig {
  kind: 'ftrl';
  alpha: number;
  /** default 0 */
  beta?: number;
  /** L1 strength; weights with `|z| <= l1` are exactly 0. Default 0 */
  l1?: number;
  /** L2 strength; default 0 */
  l2?: number;
  /** starting value of the `n` accumulator; default 0.1 (TF's `initial_accumulator_value`) */
  initialAccumulator?: number;
}

/**
 * Settings every optimizer takes besides its own (gradient-clip.ts, l2-reg.ts). Optional: an
 * absent key is off, and stays absent in the wire and manifest value.
 */
export interface CommonOptimizerConfig {
  /**
   * Per-row gradient clip: a row's summed gradient whose L2 norm exceeds it is scaled down to
   * it before the update (a dense table is one row). Absent: no clipping.
   */
  clipNorm?: number;
  /**
   * Lazy L2 penalty: `l2Reg · w` is added to the summed gradient of each row a push touches,
   * before clipping (a dense table is one row, biases included). Absent: no penalty.
   */
  l2Reg?: number;
}

/** One optimizer's own hyper-parameters, by kind. */
export type OptimizerKindConfig = SgdConfig | AdagradConfig | AdamConfig | FtrlConfig;

/** Which optimizer a table uses, with its hyper-parameters. Validated by `createOptimizer`. */
export type OptimizerConfig = OptimizerKindConfig & CommonOptimizerConfig;

/** An optimizer config as validation returns it: every default filled in, optional settings as set. */
export type FilledOptimizerConfig = (OptimizerKindConfig extends infer C ? C extends OptimizerKindConfig ? Required<C> : never : never)
  & CommonOptimizerConfig;

/** The optimizer kinds this build knows. */
export type OptimizerKind = OptimizerConfig['kind'];

/**
 * One optimizer algorithm with fixed hyper-parameters. Stateless itself: all per-row state lives
 * in the table's slab beside the row's weights.
 *
 * ```ts
 * const opt = createOptimizer({ kind: 'adagrad', lr: 0.05 });
 * const row = new Float32Array(dim + opt.stateWidth(dim)); // [weights | state]
 * opt.initState(row, 0, row, dim, dim);
 * opt.apply(row, 0, row, dim, grad, 0, dim);
 * ```
 */
export interface Optimizer {
  readonly kind: OptimizerKind;
  /** The configuration with every default filled in (what checkpoints and spec comparison use). */
  readonly config: Readonly<FilledOptimizerConfig>;
  /** Floats of optimizer state stored beside each row of width `dim`. */
  stateWidth(dim: number): number;
  /** Initialises state for a freshly created row; `w[wOff..wOff+dim)` is already initialised. */
  initState(w: Float32Array, wOff: number, s: Float32Array, sOff: number, dim: number): void;
  /** Applies one (already duplicate-summed) gradient row in place. */
  apply(
    w: Float32Array, wOff: number,
    s: Float32Array, sOff: number,
    g: Float32Array, gOff: number,
    dim: number,
  ): void;
}

/** One hyper-parameter of an optimizer, as its descriptor declares it. */
export interface OptimizerParam {
  /** the key in the TypeScript config, e.g. `initialAccumulator` */
  readonly key: string;
  /**
   * the name outside the process: in the job YAML, in the wire's `OptimizerSpec.params` and in
   * checkpoint manifests, e.g. `initial_accumulator`
   */
  readonly name: string;
  /** the values validation accepts */
  readonly bounds: NumberBounds;
  /** the value when the key is absent; none: the key is required, unless `optional` */
  readonly default?: number;
  /** absent means "off": the key stays absent (no default is filled in) */
  readonly optional?: boolean;
}

/**
 * Everything the rest of the code knows about one optimizer: validation, the list of kinds, the
 * YAML and wire key spellings, `tessera plan`'s state per row and table creation all read it.
 *
 * ```ts
 * export const SGD: OptimizerDescriptor<SgdConfig> = {
 *   kind: 'sgd', params: [{ key: 'lr', name: 'lr', bounds: { gt: 0 } }],
 *   stateWidth: () => 0, create: (cfg) => new SgdOptimizer(cfg),
 * };
 * ```
 */
export interface OptimizerDescriptor<C extends OptimizerKindConfig = OptimizerKindConfig> {
  readonly kind: C['kind'];
  /** every hyper-parameter, in the order messages and configs list them */
  readonly params: readonly OptimizerParam[];
  /** floats of state per row of width `dim` */
  stateWidth(dim: number): number;
  /** a rule across keys that bounds cannot say; throws naming the key (`${key}.eps ...`) */
  check?(cfg: Required<C>, key: string): void;
  /** builds the optimizer from a validated config with every default filled in */
  create(cfg: Required<C>): Optimizer;
}
