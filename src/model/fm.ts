/**
 * Factorization machine: logit = Σ_f linear_f + dense·w + bias + 0.5 Σ_d ((Σ_f v_fd)² − Σ_f v_fd²).
 *
 * Dense-vector layout, in order (same as LR):
 * - `dense.w [numDense, 1]` (only when numDense > 0)
 * - `bias [1]`
 *
 * Numeric features enter linearly only; the pairwise term covers the categorical fields.
 */
import * as tf from '@tensorflow/tfjs';
import { fmTerm, sumTerms } from './blocks';
import type { ForwardContext, ModelDef } from './blocks';
import { firstOrderLayout, firstOrderLogit } from './lr';

/** The FM model definition. */
export const FM_MODEL: ModelDef = Object.freeze({
  kind: 'fm' as const,
  reads: Object.freeze({ emb: true, linear: true }),
  layout: firstOrderLayout,
  logits: (ctx: ForwardContext): tf.Tensor1D => sumTerms(ctx.batch, [firstOrderLogit(ctx), fmTerm(ctx)]),
});
