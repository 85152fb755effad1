/**
 * List inputs (`ModelConfig.lists`, a user's click history): each list's `length` adjacent input
 * fields are pooled into one field before the model's own formula sees the batch, so every model
 * works on F − Σ(length − 1) fields with each list where its element 0 was.
 *
 * Element k of a row's list is present when k < that row's `listLengths` entry; absent elements
 * are masked out here whatever values they hold (the worker sends zeros there and pushes nothing
 * for them). Per list, on the [B, length, D] element embeddings h and the [B, length] mask m:
 * - `sum`: Σ_k m_k h_k;   `mean`: Σ_k m_k h_k / max(1, Σ_k m_k) (an empty list pools to 0);
 * - `attention`: the model's `attend` (din.ts: Σ_k m_k a(h_k, t) h_k, t the target's embedding).
 * First-order weights [B, length] pool the same way (`attention` lists sum them; only din attends,
 * and it reads no first-order weights). Everything is tensor ops under the step's gradient tape,
 * so each present element's row gets its gradient and an absent one gets exactly zero.
 */
import * as tf from '@tensorflow/tfjs';
import type { ListInput, ModelConfig } from './types';

/** Pools one attention list: h [B, L, D], mask [B, L], target [B, D] → [B, D]. */
export type AttendFn = (list: number, h: tf.Tensor3D, mask: tf.Tensor2D, target: tf.Tensor2D) => tf.Tensor2D;

/** The config the model's formula sees: the same, with each list counted as one field. */
export function pooledConfig(cfg: Readonly<ModelConfig>): Readonly<ModelConfig> {
  const lists = cfg.lists ?? [];
  if (lists.length === 0) return cfg;
  const pooledFields = cfg.numFields - lists.reduce((n, l) => n + l.length - 1, 0);
  return Object.freeze({ ...cfg, numFields: pooledFields });
}

/** [B, L] 1 where element k < the row's length of list `index`, else 0. */
export function listMask(lengths: tf.Tensor2D, index: number, length: number): tf.Tensor2D {
  const b = lengths.shape[0];
  const len = tf.slice(lengths, [0, index], [b, 1]);
  return tf.cast(tf.less(tf.reshape(tf.range(0, length, 1, 'float32'), [1, length]), len), 'float32') as tf.Tensor2D;
}

/** Σ_k m_k x_k over axis 1 (keeping it), then ÷ max(1, Σ m) for `mean`. */
function maskedPool(x: tf.Tensor, mask: tf.Tensor2D, mean: boolean): tf.Tensor {
  const m = x.rank === 3 ? tf.expandDims(mask, 2) : mask;
  const sum = tf.sum(tf.mul(x, m), 1, true);
  if (!mean) return sum;
  const count = tf.maximum(tf.sum(mask, 1, true), 1);
  return tf.div(sum, x.rank === 3 ? tf.expandDims(count, 2) : count);
}

/**
 * `x` ([B, F, D] or [B, F]) with every list's fields replaced by its pooled field; `attend` is
 * called for attention lists of the 3-d input, with the target's embedding.
 */
export function poolFields<T extends tf.Tensor2D | tf.Tensor3D>(x: T, lists: readonly ListInput[], lengths: tf.Tensor2D,
  attend?: AttendFn): T {
  const b = x.shape[0];
  const tail = x.shape.slice(2);
  const take = (from: number, n: number): tf.Tensor => tf.slice(x, [0, from, ...tail.map(() => 0)], [b, n, ...tail]);
  const parts: tf.Tensor[] = [];
  let cursor = 0;
  lists.forEach((l, i) => {
    if (l.offset > cursor) parts.push(take(cursor, l.offset - cursor));
    const mask = listMask(lengths, i, l.length);
    const h = take(l.offset, l.length);
    if (l.pooling === 'attention' && x.rank === 3 && attend !== undefined) {
      const target = tf.reshape(take(l.target as number, 1), [b, tail[0]]) as tf.Tensor2D;
      parts.push(tf.expandDims(attend(i, h as tf.Tensor3D, mask, target), 1));
    } else {
      parts.push(maskedPool(h, mask, l.pooling === 'mean'));
    }
    cursor = l.offset + l.length;
  });
  if (cursor < x.shape[1]) parts.push(take(cursor, x.shape[1] - cursor));
  return (parts.length === 1 ? parts[0] : tf.concat(parts, 1)) as T;
}
