/**
 * Logistic regression: logit = Σ_f linear_f + dense·w + bias.
 *
 * Dense-vector layout, in order:
 * - `dense.w [numDense, 1]` (only when numDense > 0)
 * - `bias [1]`
 *
 * LR does not read `emb` (its per-field weights are the dim-1 `linear` table), so `embGrad` is zero.
 */
import type * as tf from '@tensorflow/tfjs';
import { denseLinearTerm, linearTerm, sumTerms } from './blocks';
import type { ForwardContext, ModelDef } from './blocks';
import type { LayoutBuilder } from './param-layout';
import type { ModelConfig } from './types';

/** Slices of the first-order part shared by LR and FM: `dense.w` (if any) and `bias`. */
export function firstOrderLayout(cfg: Readonly<ModelConfig>, b: LayoutBuilder): void {
  if (cfg.numDense > 0) b.zeroWeight('dense.w', cfg.numDense, 1);
  b.bias('bias', 1);
}

/** Σ_f linear_f + dense·w + bias, as [B]. */
export function firstOrderLogit(ctx: ForwardContext): tf.Tensor1D {
  return sumTerms(ctx.batch, [linearTerm(ctx), denseLinearTerm(ctx, 'dense.w'), ctx.p.bias]);
}

/** The LR model definition. */
export const LR_MODEL: ModelDef = Object.freeze({
  kind: 'lr' as const,
  reads: Object.freeze({ emb: false, linear: true }),
  layout: firstOrderLayout,
  logits: firstOrderLogit,
});
