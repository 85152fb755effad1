/**
 * The native tower step: DeepFM and Wide & Deep (the models of `fusable`, tower-plan.ts) stepping
 * on OpenBLAS and a few C loops (native/tessera_blas.c) over plain Float32Arrays, instead of
 * op by op through tfjs (ADR 0046). With the native matMul kernels under tfjs (ADR 0014) a DeepFM
 * step at batch 1,024 spent about a third of its CPU outside its sgemms: about a hundred tfjs ops,
 * each with its dispatch, allocation and saved tensors, the upload of the dense weights and the
 * batch into the wasm heap, and the readback of every gradient. Here a step is 20-odd native
 * calls on buffers kept between steps, reading `params` and the batch where they lie and writing
 * the gradients straight into the result's arrays.
 *
 * The math is the tfjs graph's (blocks.ts), written out:
 *
 *   h_0 = act(emb·W_0[:F·D] + dense·W_0[F·D:] + b_0)   (the tower input's concat, split in two)
 *   h_i = act(h_{i-1}·W_i + b_i),  act = relu, then the step's dropout mask m_i when training
 *   z   = Σ_f linear_f + [dense·w_wide] + [FM(emb)] + h_L·w_out + b_out
 *   g   = (sigmoid(z) − y) / B                         (dLoss/dz of the mean log loss)
 *   dz_i = dh_i ⊙ m_i ⊙ [h_i > 0];  dW_i = h_{i-1}ᵀ·dz_i;  db_i = 1ᵀ·dz_i;  dh_{i-1} = dz_i·W_iᵀ
 *   dEmb = g ⊙ (Σ_f v − v) (FM) + dz_0·W_0[:F·D]ᵀ;      dLinear = g
 *
 * Results equal the tfjs path's within float32 rounding (test/unit/model/native-tower-step.test.ts).
 */
import { dropoutMask } from './dropout';
import { meanLogLossOf, sigmoidInto } from './inputs';
import type { NativeBlas } from './native-kernels';
import type { TowerPlan } from './webgpu/tower-plan';
import type { BatchInputs, StepResult } from './types';

/** The parts of the addon the native step calls (see the header of native/tessera_blas.c). */
export type NativeStepBlas = Pick<NativeBlas, 'mm' | 'reluGrad' | 'scale' | 'colSums' | 'fmForward' | 'fmBackward'>;

/** Buffers for batches of up to `cap` rows, kept between steps. */
interface Scratch {
  cap: number;
  /** Each hidden layer's activation [cap × h_i] (after relu and dropout). */
  h: Float32Array[];
  /** dh / dz of the layer being differentiated and of the one below it [cap × max h]. */
  dh: [Float32Array, Float32Array];
  /** FM: Σ_f v [cap × D], and the term itself [cap]. */
  sums: Float32Array;
  fm: Float32Array;
  /** The tower's logit, then the whole logit [cap]; g [cap]. */
  z: Float32Array;
  g: Float32Array;
}

/** One model's step on the native kernels; see the file header. */
export class NativeTowerStep {
  private scratch: Scratch | undefined;

  constructor(private readonly blas: NativeStepBlas, private readonly plan: TowerPlan) {}

  /**
   * Forward and backward of one checked batch (`PsModel.checkStep`); `dropKey` is the step's
   * dropout key, used when the plan has dropout.
   */
  train(params: Float32Array, inputs: BatchInputs, dropKey: number): StepResult {
    const b = inputs.batch;
    const s = this.scratchFor(b);
    const masks = this.plan.dropout > 0
      ? this.plan.hidden.map((w, i) => dropoutMask(dropKey, i, b, w, this.plan.dropout))
      : undefined;
    this.forward(s, params, inputs, masks);
    const labels = inputs.labels as Float32Array;
    const z = s.z.subarray(0, b);
    const probs = new Float32Array(b);
    sigmoidInto(z, probs);
    for (let r = 0; r < b; r++) s.g[r] = (probs[r] - labels[r]) / b;
    const res: StepResult = {
      loss: meanLogLossOf(z, labels),
      probs,
      embGrad: new Float32Array(b * this.plan.fd),
      linearGrad: new Float32Array(b * this.plan.f),
      denseGrad: new Float32Array(this.plan.p),
    };
    this.backward(s, params, inputs, masks, res);
    return res;
  }

  /** Probabilities [B] of one checked batch (no dropout). */
  predict(params: Float32Array, inputs: BatchInputs): Float32Array {
    const s = this.scratchFor(inputs.batch);
    this.forward(s, params, inputs, undefined);
    const probs = new Float32Array(inputs.batch);
    sigmoidInto(s.z.subarray(0, inputs.batch), probs);
    return probs;
  }

  private scratchFor(batch: number): Scratch {
    if (this.scratch !== undefined && this.scratch.cap >= batch) return this.scratch;
    const cap = batch;
    const widest = Math.max(...this.plan.hidden);
    this.scratch = {
      cap,
      h: this.plan.hidden.map((w) => new Float32Array(cap * w)),
      dh: [new Float32Array(cap * widest), new Float32Array(cap * widest)],
      sums: new Float32Array(this.plan.fm ? cap * this.plan.d : 0),
      fm: new Float32Array(this.plan.fm ? cap : 0),
      z: new Float32Array(cap),
      g: new Float32Array(cap),
    };
    return this.scratch;
  }

  /** Hidden layers, output and first-order terms: the logits land in `s.z`. */
  private forward(s: Scratch, params: Float32Array, inputs: BatchInputs, masks: Float32Array[] | undefined): void {
    const { plan, blas } = this;
    const b = inputs.batch;
    const { fd, nd, hidden } = plan;
    const h0 = hidden[0];
    const w0 = this.weight(params, 0);
    const b0 = params.subarray(plan.b[0], plan.b[0] + h0);
    if (fd > 0) blas.mm(inputs.emb, w0.subarray(0, fd * h0), s.h[0], b0, b, h0, fd, false, false, false, nd === 0);
    if (nd > 0) blas.mm(inputs.dense, w0.subarray(fd * h0), s.h[0], fd > 0 ? null : b0, b, h0, nd, false, false, fd > 0, true);
    if (masks) blas.scale(s.h[0], masks[0], b * h0);
    for (let i = 1; i < hidden.length; i++) {
      const bias = params.subarray(plan.b[i], plan.b[i] + hidden[i]);
      blas.mm(s.h[i - 1], this.weight(params, i), s.h[i], bias, b, hidden[i], hidden[i - 1], false, false, false, true);
      if (masks) blas.scale(s.h[i], masks[i], b * hidden[i]);
    }
    const last = hidden.length - 1;
    blas.mm(s.h[last], params.subarray(plan.outW, plan.outW + hidden[last]), s.z, params.subarray(plan.outB, plan.outB + 1),
      b, 1, hidden[last], false, false, false, false);
    if (plan.fm) blas.fmForward(inputs.emb, b, plan.f, plan.d, s.sums, s.fm);
    this.addFirstOrder(s, params, inputs);
  }

  /** z += Σ_f linear_f (+ dense·w_wide) (+ FM). */
  private addFirstOrder(s: Scratch, params: Float32Array, inputs: BatchInputs): void {
    const { f, nd, wideW, fm } = this.plan;
    const { linear, dense } = inputs;
    for (let r = 0; r < inputs.batch; r++) {
      let acc = fm ? s.fm[r] : 0;
      if (this.plan.linear) for (let j = r * f; j < (r + 1) * f; j++) acc += linear[j];
      if (wideW >= 0) for (let j = 0; j < nd; j++) acc += dense[r * nd + j] * params[wideW + j];
      s.z[r] += acc;
    }
  }

  /** Every gradient, from g in `s.g`, into `res`. */
  private backward(s: Scratch, params: Float32Array, inputs: BatchInputs, masks: Float32Array[] | undefined, res: StepResult): void {
    const { plan, blas } = this;
    const b = inputs.batch;
    const { hidden } = plan;
    const grad = res.denseGrad;
    this.firstOrderGrads(s, inputs, res);
    const last = hidden.length - 1;
    const hl = hidden[last];
    blas.mm(s.h[last], s.g, grad.subarray(plan.outW, plan.outW + hl), null, hl, 1, b, true, false, false, false);
    let sum = 0;
    for (let r = 0; r < b; r++) sum += s.g[r];
    grad[plan.outB] = sum;
    let [dh, other] = s.dh;
    blas.mm(s.g, params.subarray(plan.outW, plan.outW + hl), dh, null, b, hl, 1, false, true, false, false);
    for (let i = last; i >= 0; i--) {
      const w = hidden[i];
      blas.reluGrad(dh, s.h[i], b * w);
      if (masks) blas.scale(dh, masks[i], b * w);
      blas.colSums(dh, b, w, grad.subarray(plan.b[i], plan.b[i] + w));
      if (i === 0) break;
      const below = hidden[i - 1];
      blas.mm(s.h[i - 1], dh, grad.subarray(plan.w[i], plan.w[i] + below * w), null, below, w, b, true, false, false, false);
      blas.mm(dh, this.weight(params, i), other, null, b, below, w, false, true, false, false);
      [dh, other] = [other, dh];
    }
    this.firstLayerGrads(dh, params, inputs, res);
  }

  /** dW_0 from both parts of the tower input, and dEmb += dz_0·W_0[:F·D]ᵀ. */
  private firstLayerGrads(dz: Float32Array, params: Float32Array, inputs: BatchInputs, res: StepResult): void {
    const { plan, blas } = this;
    const b = inputs.batch;
    const { fd, nd } = plan;
    const h0 = plan.hidden[0];
    const dw0 = res.denseGrad.subarray(plan.w[0], plan.w[0] + (fd + nd) * h0);
    if (nd > 0) blas.mm(inputs.dense, dz, dw0.subarray(fd * h0), null, nd, h0, b, true, false, false, false);
    if (fd === 0) return;
    blas.mm(inputs.emb, dz, dw0, null, fd, h0, b, true, false, false, false);
    blas.mm(dz, this.weight(params, 0).subarray(0, fd * h0), res.embGrad, null, b, fd, h0, false, true, plan.fm, false);
  }

  /** dLinear = g per field, d w_wide = denseᵀ·g, and the FM term's dEmb (which the tower's adds to). */
  private firstOrderGrads(s: Scratch, inputs: BatchInputs, res: StepResult): void {
    const { f, nd, wideW } = this.plan;
    const b = inputs.batch;
    if (this.plan.linear) for (let r = 0; r < b; r++) res.linearGrad.fill(s.g[r], r * f, (r + 1) * f);
    if (wideW >= 0) {
      for (let r = 0; r < b; r++) for (let j = 0; j < nd; j++) res.denseGrad[wideW + j] += s.g[r] * inputs.dense[r * nd + j];
    }
    if (this.plan.fm) this.blas.fmBackward(inputs.emb, s.sums, s.g, b, this.plan.f, this.plan.d, res.embGrad);
  }

  /** `mlp.<i>.w` [in_i, h_i] as a view of `params`. */
  private weight(params: Float32Array, i: number): Float32Array {
    return params.subarray(this.plan.w[i], this.plan.w[i] + this.plan.inWidth[i] * this.plan.hidden[i]);
  }
}
