/**
 * The flat dense-parameter vector: a list of named, row-major slices laid end to end. The PS keeps
 * the vector as one dense table; the model cuts it into tensors per step. Slice order is part of
 * the checkpoint format, so each model appends its slices in a fixed, documented order.
 */
import * as tf from '@tensorflow/tfjs';
import type { ParamSlice } from './types';

/**
 * Appends slices in order and hands out offsets.
 *
 * ```ts
 * const b = new LayoutBuilder();
 * b.weight('mlp.0.w', 429, 400).bias('mlp.0.b', 400);
 * const slices = b.build(); // [{ name: 'mlp.0.w', shape: [429, 400], offset: 0, ... }, ...]
 * ```
 */
export class LayoutBuilder {
  private readonly slices: ParamSlice[] = [];
  private size = 0;

  /** A `[fanIn, fanOut]` weight matrix, Glorot-uniform initialised. */
  weight(name: string, fanIn: number, fanOut: number): this {
    return this.add(name, [fanIn, fanOut], 'glorot');
  }

  /**
   * A `[fanIn, fanOut]` weight matrix, zero initialised: the linear weights of numeric inputs
   * (LR, FM, the wide part of Wide & Deep), which a Glorot draw (±0.65 for 13 inputs) sets to a
   * random logit of several units over log-scaled counts, more than a short run unlearns.
   */
  zeroWeight(name: string, fanIn: number, fanOut: number): this {
    return this.add(name, [fanIn, fanOut], 'zeros');
  }

  /** A bias vector of length `n`, zero initialised. */
  bias(name: string, n: number): this {
    return this.add(name, [n], 'zeros');
  }

  /** The frozen slice list. */
  build(): readonly ParamSlice[] {
    return Object.freeze(this.slices.slice());
  }

  private add(name: string, shape: number[], init: ParamSlice['init']): this {
    if (this.slices.some((s) => s.name === name)) throw new Error(`duplicate parameter slice '${name}'`);
    const size = shape.reduce((a, b) => a * b, 1);
    this.slices.push(Object.freeze({ name, shape: Object.freeze(shape), offset: this.size, size, init }));
    this.size += size;
    return this;
  }
}

/** Total length of a layout. */
export function layoutSize(layout: readonly ParamSlice[]): number {
  const last = layout[layout.length - 1];
  return last === undefined ? 0 : last.offset + last.size;
}

/** Uniform [0, 1) stream (mulberry32); deterministic in `seed`. */
function uniformStream(seed: number): () => number {
  let s = (seed ^ 0x9e3779b9) >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Glorot-uniform weights (limit sqrt(6 / (fanIn + fanOut))), zeros for biases and zero weights, drawn slice by slice
 * in layout order from one seeded stream: the same layout and seed give the same bits.
 */
export function initialVector(layout: readonly ParamSlice[], seed: number): Float32Array {
  const out = new Float32Array(layoutSize(layout));
  const rand = uniformStream(seed);
  for (const s of layout) {
    if (s.init !== 'glorot') continue;
    const limit = Math.sqrt(6 / (s.shape[0] + s.shape[1]));
    for (let i = s.offset; i < s.offset + s.size; i++) out[i] = (2 * rand() - 1) * limit;
  }
  return out;
}

/** Named tensors of one step, keyed by slice name. */
export type ParamTensors = Readonly<Record<string, tf.Tensor>>;

/** One tensor per slice, in layout order (callers own and dispose them, usually via tf.tidy). */
export function sliceTensors(layout: readonly ParamSlice[], params: Float32Array): tf.Tensor[] {
  return layout.map((s) => tf.tensor(params.subarray(s.offset, s.offset + s.size), s.shape.slice()));
}

/** Keys `tensors` (in layout order) by slice name. */
export function byName(layout: readonly ParamSlice[], tensors: readonly tf.Tensor[]): ParamTensors {
  const out: Record<string, tf.Tensor> = {};
  layout.forEach((s, i) => { out[s.name] = tensors[i]; });
  return out;
}

/** One line per slice, e.g. `mlp.0.w [429, 400] @0 (171600)`, for logs and `checkpoint inspect`. */
export function describeLayout(layout: readonly ParamSlice[]): string {
  return layout.map((s) => `${s.name} [${s.shape.join(', ')}] @${s.offset} (${s.size})`).join('\n');
}
