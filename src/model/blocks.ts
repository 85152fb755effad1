/**
 * Building blocks shared by the models: the per-step forward context, first-order terms, the FM
 * interaction, the MLP tower and the model-definition contract each model file implements.
 * Every block returns per-example terms of shape [B] that the model sums into the logit.
 */
import * as tf from '@tensorflow/tfjs';
import type { DenseFn } from './dense-layers';
import type { LayoutBuilder, ParamTensors } from './param-layout';
import type { ModelConfig, ModelKind } from './types';

/** What a model's forward pass sees in one step. Absent inputs are ones the model does not read. */
export interface ForwardContext {
  readonly cfg: Readonly<ModelConfig>;
  readonly batch: number;
  /** Slices of the dense vector, by name. */
  readonly p: ParamTensors;
  /** [B, F, D]; absent when F = 0 or the model ignores embeddings. */
  readonly emb?: tf.Tensor3D;
  /** [B, F]; absent when F = 0 or the model ignores the linear table. */
  readonly linear?: tf.Tensor2D;
  /** [B, numDense]; absent when numDense = 0. */
  readonly dense?: tf.Tensor2D;
  /** The dense layer implementation (explicit transposes or autodiff). */
  readonly denseFn: DenseFn;
  /** Training with dropout: hidden layer `layer`'s activation `h` with the step's mask applied. */
  readonly drop?: (layer: number, h: tf.Tensor2D) => tf.Tensor2D;
}

/** One model family: which inputs it reads, its slice layout, and its logit. */
export interface ModelDef {
  readonly kind: ModelKind;
  readonly reads: Readonly<{ emb: boolean; linear: boolean }>;
  /** Appends the model's slices, in its documented order. */
  layout(cfg: Readonly<ModelConfig>, b: LayoutBuilder): void;
  /** Logits [B]. */
  logits(ctx: ForwardContext): tf.Tensor1D;
  /**
   * Pools attention list `list` (its index in `cfg.lists`): element embeddings h [B, L, D], their
   * mask [B, L] and the target's embedding [B, D] → [B, D]. Only a model that attends has it.
   */
  attend?(ctx: ForwardContext, list: number, h: tf.Tensor3D, mask: tf.Tensor2D, target: tf.Tensor2D): tf.Tensor2D;
}

/** Σ of [B] terms; an all-zero [B] when there are none (so a lone [1] bias still broadcasts). */
export function sumTerms(batch: number, terms: Array<tf.Tensor | undefined>): tf.Tensor1D {
  const present = terms.filter((t): t is tf.Tensor => t !== undefined);
  let acc: tf.Tensor = tf.zeros([batch]);
  for (const t of present) acc = tf.add(acc, t);
  return acc as tf.Tensor1D;
}

/**
 * Σ of `x` over `axis`, with a gradient computed as one matMul. tfjs's own Sum gradient multiplies
 * dy by ones of x's shape, which it builds as a host array every step (1.7 MB for the
 * [1024, 26, 16] embeddings: filled, uploaded, multiplied, freed; a tile instead is slower still on
 * the wasm backend). Seen as [pre, n, post], the gradient is dy [pre, post] times the
 * [post, n·post] matrix E with E[j, i·post + j] = 1: each dy value copied n times, exactly, by
 * a small matMul whose only host array is E (6,656 floats for the embeddings).
 */
export function sumAlong<T extends tf.Tensor>(x: tf.Tensor, axis: number): T {
  const shape = x.shape;
  const n = shape[axis];
  const post = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: tf.sum(args[0] as tf.Tensor, axis),
    gradFunc: (dy: tf.Tensor) => tf.reshape(tf.matMul(tf.reshape(dy, [-1, post]), spreadMatrix(n, post)), shape),
  }));
  return op(x) as T;
}

/** E [post, n·post] with E[j, i·post + j] = 1 (see sumAlong). */
function spreadMatrix(n: number, post: number): tf.Tensor2D {
  const e = new Float32Array(post * n * post);
  for (let j = 0; j < post; j++) for (let i = 0; i < n; i++) e[j * n * post + i * post + j] = 1;
  return tf.tensor2d(e, [post, n * post]);
}

/** Σ_f linear[b, f]: the first-order term of the categorical fields. */
export function linearTerm(ctx: ForwardContext): tf.Tensor1D | undefined {
  return ctx.linear === undefined ? undefined : sumAlong<tf.Tensor1D>(ctx.linear, 1);
}

/** dense · w for the `[numDense, 1]` slice `name`; undefined when there are no numeric features. */
export function denseLinearTerm(ctx: ForwardContext, name: string): tf.Tensor1D | undefined {
  if (ctx.dense === undefined) return undefined;
  return tf.reshape(tf.matMul(ctx.dense, ctx.p[name] as tf.Tensor2D), [ctx.batch]);
}

/** FM second order: 0.5 Σ_d ((Σ_f v_fd)² − Σ_f v_fd²). */
export function fmTerm(ctx: ForwardContext): tf.Tensor1D | undefined {
  if (ctx.emb === undefined) return undefined;
  const sumSq = tf.square(sumAlong(ctx.emb, 1));
  const sqSum = sumAlong(tf.square(ctx.emb), 1);
  return tf.mul<tf.Tensor1D>(0.5, sumAlong(tf.sub(sumSq, sqSum), 1));
}

/** Width of the tower input `flatten(emb) ++ dense`. */
export function towerWidth(cfg: Readonly<ModelConfig>): number {
  return cfg.numFields * cfg.embDim + cfg.numDense;
}

/** `flatten(emb) ++ dense` as [B, F·D + numDense]. */
export function towerInput(ctx: ForwardContext): tf.Tensor2D {
  const parts: tf.Tensor2D[] = [];
  if (ctx.emb !== undefined) parts.push(tf.reshape(ctx.emb, [ctx.batch, -1]));
  if (ctx.dense !== undefined) parts.push(ctx.dense);
  return parts.length === 1 ? parts[0] : tf.concat(parts, 1);
}

/**
 * Slices of an MLP `in → hidden… [→ 1]`: `mlp.<i>.w [in_i, h_i]`, `mlp.<i>.b [h_i]` per hidden
 * layer, then `mlp.out.w [h_last, 1]`, `mlp.out.b [1]` when `withOutput`.
 */
export function mlpLayout(b: LayoutBuilder, inWidth: number, hidden: readonly number[], withOutput: boolean): number {
  let width = inWidth;
  hidden.forEach((h, i) => {
    b.weight(`mlp.${i}.w`, width, h).bias(`mlp.${i}.b`, h);
    width = h;
  });
  if (withOutput) b.weight('mlp.out.w', width, 1).bias('mlp.out.b', 1);
  return width;
}

/**
 * ReLU hidden layers of the tower, each followed by the step's dropout when training with it;
 * returns the last hidden activation (or `x` if none).
 */
export function mlpHidden(ctx: ForwardContext, x: tf.Tensor2D): tf.Tensor2D {
  let h = x;
  ctx.cfg.hidden.forEach((_, i) => {
    h = ctx.denseFn(h, ctx.p[`mlp.${i}.w`] as tf.Tensor2D, ctx.p[`mlp.${i}.b`] as tf.Tensor1D, 'relu');
    if (ctx.drop) h = ctx.drop(i, h);
  });
  return h;
}

/** The full tower to one logit per example: hidden layers, then `mlp.out`. */
export function mlpLogit(ctx: ForwardContext, x: tf.Tensor2D): tf.Tensor1D {
  const h = mlpHidden(ctx, x);
  const out = ctx.denseFn(h, ctx.p['mlp.out.w'] as tf.Tensor2D, ctx.p['mlp.out.b'] as tf.Tensor1D);
  return tf.reshape(out, [ctx.batch]);
}

/**
 * Mean sigmoid cross-entropy with logits, in the stable form
 * max(z, 0) − z·y + log(1 + exp(−|z|)); its gradient is (sigmoid(z) − y) / B.
 */
export function meanLogLoss(logits: tf.Tensor1D, labels: tf.Tensor1D): tf.Scalar {
  const perExample = tf.add(tf.sub(tf.relu(logits), tf.mul(logits, labels)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))));
  return tf.mean(perExample);
}
