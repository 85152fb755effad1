/**
 * A dense table: one vector of `size` floats (e.g. an MLP's flattened weights) with the same
 * optimizers as embedding rows. The whole vector is treated as one row of width `size`, so Adam
 * keeps a single step count for the table and `initRow` fills it as the row of id 0.
 */
import type { FilledOptimizerConfig, Optimizer, OptimizerConfig } from '../optimizers/optimizer';
import { createOptimizer } from '../optimizers/registry';
import { AdamOptimizer } from '../optimizers/adam';
import { nativeRows } from '../../common/native-rows';
import { checkNumber } from '../optimizers/config-check';
import { DEFAULT_INITIALIZER, InitializerConfig, initRow, validateInitializer } from './initializers';
import { allFinite, checkFinite, checkRegion, nonFiniteUpdate } from './row-ops';
import { checkSeed, checkTableName, MAX_DENSE_SIZE } from './table-spec';

/** Construction options; see `DenseTableSpec`. */
export interface DenseTableOptions {
  name: string;
  size: number;
  optimizer: OptimizerConfig;
  initializer?: InitializerConfig;
  seed?: number;
}

/**
 * A dense parameter vector.
 *
 * ```ts
 * const t = new DenseTable({ name: 'mlp', size: 429 * 400, optimizer: { kind: 'adam', lr: 1e-3 } });
 * const w = t.pull();   // a copy of the weights
 * t.push(grads);        // grads.length === t.size
 * ```
 */
export class DenseTable {
  readonly name: string;
  /** Number of floats in the vector. */
  readonly size: number;
  /** Optimizer config with defaults filled in. */
  readonly optimizerConfig: Readonly<FilledOptimizerConfig>;
  readonly initializer: InitializerConfig;
  readonly seed: number;
  /** The weights, live (not a copy). */
  readonly values: Float32Array;
  /** The optimizer state, live; `optimizer.stateWidth(size)` floats. */
  readonly state: Float32Array;
  private readonly opt: Optimizer;
  private pushes = 0;
  /** Weights then state as they were before the current push (its rollback). */
  private undo = new Float32Array(0);

  /** Validates `opts` (errors name the key) and initialises weights and state. */
  constructor(opts: DenseTableOptions) {
    this.name = checkTableName(opts.name);
    this.size = checkNumber('size', opts.size, { integer: true, min: 1, max: MAX_DENSE_SIZE });
    this.opt = createOptimizer(opts.optimizer);
    this.optimizerConfig = this.opt.config;
    this.initializer = validateInitializer(opts.initializer ?? DEFAULT_INITIALIZER);
    this.seed = checkSeed(opts.seed);
    this.values = new Float32Array(this.size);
    this.state = new Float32Array(this.opt.stateWidth(this.size));
    initRow(this.initializer, this.seed, 0, 0, this.values, 0, this.size);
    this.opt.initState(this.values, 0, this.state, 0, this.size);
  }

  /** Bytes of weights and state. */
  memoryBytes(): number {
    return this.values.byteLength + this.state.byteLength;
  }

  /** Pushes applied so far, as a row's version (slot-meta.ts): wraps at 2^32, not checkpointed. */
  get version(): number {
    return this.pushes;
  }

  /** Copies the weights into `out` (at least `size` floats) or a new array, and returns it. */
  pull(out?: Float32Array): Float32Array {
    if (out === undefined) return this.values.slice();
    checkRegion(this.name, 'out', out, 0, this.size);
    out.set(this.values);
    return out;
  }

  /**
   * Applies one gradient of exactly `size` finite floats. Validated first, so a rejected push
   * leaves the table unchanged; an update that would leave a weight or state value non-finite
   * is undone and refused (TESSERA_ERR_NON_FINITE). The undo copy of weights and state is kept
   * between pushes, so a dense table takes twice its bytes once pushed to.
   */
  push(grads: Float32Array): void {
    checkRegion(this.name, 'grads', grads, 0, this.size, true);
    checkFinite(this.name, 'grads', grads, this.size, null);
    if (this.undo.length === 0) this.undo = new Float32Array(this.size + this.state.length);
    if (this.applyNative(grads) ?? this.applyJs(grads)) {
      this.pushes = (this.pushes + 1) >>> 0;
      return;
    }
    this.values.set(this.undo.subarray(0, this.size));
    this.state.set(this.undo.subarray(this.size));
    throw nonFiniteUpdate(this.name, 'the dense vector');
  }

  /**
   * Adam's update through the native loop (one pass that also takes the undo copy and checks what
   * it wrote): true when every weight and moment stayed finite, or null where it does not apply
   * (another optimizer, no addon) and the JavaScript loop runs. The dense table is the PS's
   * largest single update (the DeepFM tower: 333k floats per push, every step of every worker).
   */
  private applyNative(grads: Float32Array): boolean | null {
    const native = nativeRows(this.size);
    if (!native || !(this.opt instanceof AdamOptimizer)) return null;
    const { size, undo, state } = this;
    // The loop copies weights and both moments (state[0, 2 * size)); the step count is copied here, before it advances.
    undo.set(state.subarray(2 * size), 3 * size);
    const c = this.opt.config;
    const lrT = this.opt.advanceStep(state, 0, size);
    return native.adamDense(this.values, state, grads, undo, c.beta1, c.beta2, c.eps, lrT) === 1;
  }

  /** The undo copy, the optimizer's own loop, then a scan of weights and state: true when all stayed finite. */
  private applyJs(grads: Float32Array): boolean {
    this.undo.set(this.values);
    this.undo.set(this.state, this.size);
    this.opt.apply(this.values, 0, this.state, 0, grads, 0, this.size);
    return allFinite(this.values) && allFinite(this.state);
  }

  /** Overwrites weights and state with copies (the restore path); validated first. */
  restore(values: Float32Array, state: Float32Array): void {
    checkRegion(this.name, 'values', values, 0, this.size, true);
    checkRegion(this.name, 'state', state, 0, this.state.length, true);
    checkFinite(this.name, 'values', values, this.size, null);
    checkFinite(this.name, 'state', state, this.state.length, null);
    this.values.set(values);
    this.state.set(state);
  }
}
