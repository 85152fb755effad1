/**
 * DCN-v2 (Wang et al. 2021), parallel form. With x0 = flatten(emb) ++ dense (width d):
 * - cross network, full-rank: x_{l+1} = x0 ⊙ (x_l·W_l + b_l) + x_l, for l < crossLayers;
 * - deep network: ReLU MLP over x0 with widths `hidden`;
 * - logit = [x_L ++ h_last]·out.w + out.b.
 *
 * Dense-vector layout, in order (h_i = hidden[i], L = crossLayers, default 3):
 * - `cross.<l>.w [d, d]`, `cross.<l>.b [d]` for l < L
 * - `mlp.<i>.w [in_i, h_i]`, `mlp.<i>.b [h_i]` for each hidden layer i (in_0 = d)
 * - `out.w [d + h_last, 1]` (just `[d, 1]` when hidden is empty), `out.b [1]`
 *
 * DCN ignores the `linear` input (the cross network already holds the first-order terms through
 * the x_l residual), so `linearGrad` is zero and a worker need not pull that table.
 */
import * as tf from '@tensorflow/tfjs';
import { mlpHidden, mlpLayout, towerInput, towerWidth } from './blocks';
import type { ForwardContext, ModelDef } from './blocks';
import type { LayoutBuilder } from './param-layout';
import type { ModelConfig } from './types';

/** Cross layers when the config names none. */
export const DEFAULT_CROSS_LAYERS = 3;

function crossLayersOf(cfg: Readonly<ModelConfig>): number {
  return cfg.crossLayers ?? DEFAULT_CROSS_LAYERS;
}

function dcnLayout(cfg: Readonly<ModelConfig>, b: LayoutBuilder): void {
  const d = towerWidth(cfg);
  for (let l = 0; l < crossLayersOf(cfg); l++) b.weight(`cross.${l}.w`, d, d).bias(`cross.${l}.b`, d);
  const deepWidth = cfg.hidden.length > 0 ? mlpLayout(b, d, cfg.hidden, false) : 0;
  b.weight('out.w', d + deepWidth, 1).bias('out.b', 1);
}

function dcnLogits(ctx: ForwardContext): tf.Tensor1D {
  const x0 = towerInput(ctx);
  let x = x0;
  for (let l = 0; l < crossLayersOf(ctx.cfg); l++) {
    const wx = ctx.denseFn(x, ctx.p[`cross.${l}.w`] as tf.Tensor2D, ctx.p[`cross.${l}.b`] as tf.Tensor1D);
    x = tf.add(tf.mul(x0, wx), x);
  }
  const top = ctx.cfg.hidden.length > 0 ? tf.concat([x, mlpHidden(ctx, x0)], 1) : x;
  const out = ctx.denseFn(top, ctx.p['out.w'] as tf.Tensor2D, ctx.p['out.b'] as tf.Tensor1D);
  return tf.reshape(out, [ctx.batch]);
}

/** The DCN-v2 model definition. */
export const DCN_MODEL: ModelDef = Object.freeze({
  kind: 'dcn' as const,
  reads: Object.freeze({ emb: true, linear: false }),
  layout: dcnLayout,
  logits: dcnLogits,
});
