/**
 * Wide & Deep: logit = Σ_f linear_f + dense·w (wide) + MLP(flatten(emb) ++ dense) (deep).
 *
 * Dense-vector layout, in order (in_0 = F·D + numDense, h_i = hidden[i]):
 * - `dense.w [numDense, 1]` (only when numDense > 0): wide weights of the numeric features
 * - `mlp.<i>.w [in_i, h_i]`, `mlp.<i>.b [h_i]` for each hidden layer i (ReLU)
 * - `mlp.out.w [h_last, 1]`, `mlp.out.b [1]` (`mlp.out.b` is the global bias)
 */
import * as tf from '@tensorflow/tfjs';
import { denseLinearTerm, linearTerm, mlpLayout, mlpLogit, sumTerms, towerInput, towerWidth } from './blocks';
import type { ForwardContext, ModelDef } from './blocks';
import type { LayoutBuilder } from './param-layout';
import type { ModelConfig } from './types';

/** The Wide & Deep model definition. */
export const WIDEDEEP_MODEL: ModelDef = Object.freeze({
  kind: 'widedeep' as const,
  reads: Object.freeze({ emb: true, linear: true }),
  layout: (cfg: Readonly<ModelConfig>, b: LayoutBuilder): void => {
    if (cfg.numDense > 0) b.zeroWeight('dense.w', cfg.numDense, 1);
    mlpLayout(b, towerWidth(cfg), cfg.hidden, true);
  },
  logits: (ctx: ForwardContext): tf.Tensor1D => sumTerms(ctx.batch, [
    linearTerm(ctx), denseLinearTerm(ctx, 'dense.w'), mlpLogit(ctx, towerInput(ctx)),
  ]),
});
