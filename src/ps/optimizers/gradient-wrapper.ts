/**
 * The form of the keys every optimizer takes besides its own (`clip_norm`, `l2_reg`): a wrapper
 * that changes a row's summed gradient and hands the result to the optimizer it wraps, which keeps
 * its state layout. The registry adds each such key to every descriptor with `withCommonKey`, so
 * it crosses the YAML, the wire and the checkpoint manifest like the optimizer's own keys.
 */
import type { CommonOptimizerConfig, FilledOptimizerConfig, Optimizer, OptimizerDescriptor, OptimizerParam } from './optimizer';

/** An optimizer that rewrites a gradient row, then applies it through `inner`. */
export abstract class GradientWrapper implements Optimizer {
  readonly kind: Optimizer['kind'];
  readonly config: Optimizer['config'];
  private scratch = new Float32Array(0);

  /** `common`: the wrapper's own key, added to `inner`'s config. */
  constructor(protected readonly inner: Optimizer, common: CommonOptimizerConfig) {
    this.kind = inner.kind;
    this.config = Object.freeze({ ...inner.config, ...common });
  }

  /** The inner optimizer's. */
  stateWidth(dim: number): number {
    return this.inner.stateWidth(dim);
  }

  /** The inner optimizer's. */
  initState(w: Float32Array, wOff: number, s: Float32Array, sOff: number, dim: number): void {
    this.inner.initState(w, wOff, s, sOff, dim);
  }

  abstract apply(w: Float32Array, wOff: number, s: Float32Array, sOff: number, g: Float32Array, gOff: number, dim: number): void;

  /** A reusable row of at least `dim` floats for the rewritten gradient. */
  protected scratchRow(dim: number): Float32Array {
    if (this.scratch.length < dim) this.scratch = new Float32Array(dim);
    return this.scratch;
  }
}

/**
 * `d` with the common key `param` added to its keys and, when a config sets it, `wrap` around
 * what it creates.
 */
export function withCommonKey(d: OptimizerDescriptor, param: OptimizerParam & { key: keyof CommonOptimizerConfig },
  wrap: (inner: Optimizer, value: number) => Optimizer): OptimizerDescriptor {
  return Object.freeze({
    ...d,
    params: Object.freeze([...d.params, param]),
    create: (cfg: FilledOptimizerConfig) => {
      const opt = d.create(cfg);
      const value = (cfg as CommonOptimizerConfig)[param.key];
      return value === undefined ? opt : wrap(opt, value);
    },
  });
}
