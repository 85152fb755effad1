/**
 * DeepFM: logit = Σ_f linear_f + FM(emb) + MLP(flatten(emb) ++ dense).
 *
 * Dense-vector layout, in order (in_0 = F·D + numDense, h_i = hidden[i]):
 * - `mlp.<i>.w [in_i, h_i]`, `mlp.<i>.b [h_i]` for each hidden layer i (ReLU)
 * - `mlp.out.w [h_last, 1]`, `mlp.out.b [1]` (`mlp.out.b` is the global bias)
 */
import * as tf from '@tensorflow/tfjs';
import { fmTerm, linearTerm, mlpLayout, mlpLogit, sumTerms, towerInput, towerWidth } from './blocks';
import type { ForwardContext, ModelDef } from './blocks';
import type { LayoutBuilder } from './param-layout';
import type { ModelConfig } from './types';

/** The DeepFM model definition. */
export const DEEPFM_MODEL: ModelDef = Object.freeze({
  kind: 'deepfm' as const,
  reads: Object.freeze({ emb: true, linear: true }),
  layout: (cfg: Readonly<ModelConfig>, b: LayoutBuilder): void => { mlpLayout(b, towerWidth(cfg), cfg.hidden, true); },
  logits: (ctx: ForwardContext): tf.Tensor1D =>
    sumTerms(ctx.batch, [linearTerm(ctx), fmTerm(ctx), mlpLogit(ctx, towerInput(ctx))]),
});
