/**
 * `PsModel`: the one `CtrModel` implementation. It binds a `ModelDef` (layout + logit) to the
 * step machinery: cut the flat parameter vector into tensors, run forward under the gradient tape,
 * and copy every gradient back into plain Float32Arrays, with one readback per step on a GPU
 * backend (readback.ts). A step's tensors are built inside one `tf.tidy` and its results are
 * disposed once read, so a step leaves the tf engine exactly as it found it.
 */
import * as tf from '@tensorflow/tfjs';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { meanLogLoss } from './blocks';
import type { ForwardContext, ModelDef } from './blocks';
import { denseLayerFn } from './dense-layers';
import { dropoutKey, dropoutMask } from './dropout';
import { installedNativeBlas } from './native-kernels';
import { NativeTowerStep } from './native-tower-step';
import { fusable, towerPlan } from './webgpu/tower-plan';
import { poolFields, pooledConfig } from './list-pooling';
import type { DenseFn } from './dense-layers';
import { checkBatch, inputTensors, sigmoidInto } from './inputs';
import { readTensors, readTensorsInto } from './readback';
import type { InputTensors } from './inputs';
import { byName, initialVector, LayoutBuilder, layoutSize, sliceTensors } from './param-layout';
import type { BatchInputs, CtrModel, ModelConfig, ModelOptions, ParamSlice, StepResult } from './types';

/** A CTR model computing on parameters it is handed; see `createModel`. */
export class PsModel implements CtrModel {
  readonly config: Readonly<ModelConfig>;
  readonly denseSize: number;
  readonly layout: readonly ParamSlice[];
  readonly reads: Readonly<{ emb: boolean; linear: boolean }>;
  private readonly def: ModelDef;
  /** What the model's formula sees: `config` with each list pooled to one field. */
  private readonly formulaConfig: Readonly<ModelConfig>;
  private readonly denseFn: DenseFn;
  private readonly constantWeights: boolean;
  /** With `constantWeights`: the last predict's params and their tensors, kept between calls. */
  private kept: { params: Float32Array; tensors: tf.Tensor[] } | null = null;
  private disposed = false;
  /** Training steps taken: with the seed, what keys each step's dropout masks. */
  private trainSteps = 0;
  /** Whether this model may step natively (see `ModelOptions.nativeStep`), and its step once built. */
  private readonly nativeAllowed: boolean;
  private nativeTower: NativeTowerStep | undefined;

  /** `cfg` must already be validated (createModel does it). */
  constructor(cfg: Readonly<ModelConfig>, def: ModelDef, opts: ModelOptions = {}) {
    const b = new LayoutBuilder();
    this.formulaConfig = pooledConfig(cfg);
    def.layout(this.formulaConfig, b);
    this.config = cfg;
    this.def = def;
    this.layout = b.build();
    this.denseSize = layoutSize(this.layout);
    this.reads = def.reads;
    this.denseFn = denseLayerFn(opts.denseLayer);
    this.constantWeights = opts.constantWeights === true;
    this.nativeAllowed = (opts.nativeStep ?? process.env.TESSERA_NATIVE_STEP !== '0') && fusable(cfg);
  }

  initialDense(): Float32Array {
    return initialVector(this.layout, this.config.seed ?? 0);
  }

  async trainStep(params: Float32Array, inputs: BatchInputs): Promise<StepResult> {
    this.checkStep(params, inputs, true);
    const native = this.nativeStep();
    if (native !== undefined) return native.train(params, inputs, dropoutKey(this.config.seed ?? 0, this.nextTrainStep()));
    const { numFields: f, embDim: d } = this.config;
    const b = inputs.batch;
    const res: StepResult = {
      loss: NaN,
      probs: new Float32Array(b),
      embGrad: new Float32Array(b * f * d),
      linearGrad: new Float32Array(b * f),
      denseGrad: new Float32Array(this.denseSize),
    };
    const leafGrads: Array<'embGrad' | 'linearGrad'> = [];
    const drop = this.dropoutOf(this.nextTrainStep(), b);
    const outs = tf.tidy(() => {
      const x = inputTensors(this.config, this.reads, inputs);
      const labels = tf.tensor1d(inputs.labels as Float32Array);
      const slices = sliceTensors(this.layout, params);
      const leaves: tf.Tensor[] = [];
      if (x.emb !== undefined) { leaves.push(x.emb); leafGrads.push('embGrad'); }
      if (x.linear !== undefined) { leaves.push(x.linear); leafGrads.push('linearGrad'); }
      let logits: tf.Tensor1D | undefined;
      const lossOf = (): tf.Scalar => {
        logits = tf.keep(this.def.logits(this.context(b, x, slices, drop)));
        return meanLogLoss(logits, labels);
      };
      const { value, grads } = tf.valueAndGrads(lossOf)([...leaves, ...slices]);
      return [value, logits as tf.Tensor1D, ...grads];
    });
    // Gradients land straight in the result's arrays (one copy, no intermediate arrays).
    const dests = [undefined, undefined, ...leafGrads.map((key) => res[key]),
      ...this.layout.map((s) => res.denseGrad.subarray(s.offset, s.offset + s.size))];
    const [loss, logits] = await readTensorsInto(outs, dests);
    res.loss = loss[0];
    sigmoidInto(logits, res.probs);
    return res;
  }

  async predict(params: Float32Array, inputs: BatchInputs): Promise<Float32Array> {
    this.checkStep(params, inputs, false);
    const native = this.nativeStep();
    if (native !== undefined) return native.predict(params, inputs);
    const kept = this.keptWeights(params);
    const logits = tf.tidy(() => {
      const x = inputTensors(this.config, this.reads, inputs);
      return this.def.logits(this.context(inputs.batch, x, kept ?? sliceTensors(this.layout, params)));
    });
    const [z] = await readTensors([logits]);
    const probs = new Float32Array(inputs.batch);
    sigmoidInto(z, probs);
    return probs;
  }

  /**
   * The 0-based number of this training step, counted for the dropout masks. Another step
   * implementation stepping for this model (the fused webgpu step) takes its numbers here too.
   */
  nextTrainStep(): number {
    return this.trainSteps++;
  }

  /**
   * The model holds no tensors between steps (with `constantWeights`, only the weights of the
   * last predict); dispose() frees them, and after it every call throws.
   */
  dispose(): void {
    this.disposed = true;
    this.kept?.tensors.forEach((t) => t.dispose());
    this.kept = null;
  }

  /** The native tower step when this model may use it and the native kernels compute now. */
  private nativeStep(): NativeTowerStep | undefined {
    const blas = this.nativeAllowed ? installedNativeBlas() : undefined;
    if (blas === undefined) return undefined;
    this.nativeTower ??= new NativeTowerStep(blas, towerPlan(this.config, this.layout, this.denseSize));
    return this.nativeTower;
  }

  /** With `constantWeights`, the tensors of `params`, uploaded once per array; else null. */
  private keptWeights(params: Float32Array): tf.Tensor[] | null {
    if (!this.constantWeights) return null;
    if (this.kept?.params !== params) {
      this.kept?.tensors.forEach((t) => t.dispose());
      this.kept = { params, tensors: sliceTensors(this.layout, params) };
    }
    return this.kept.tensors;
  }

  /**
   * Validates one step's arguments (TESSERA_ERR_INVALID_ARGUMENT naming the argument), and that the
   * model is not disposed. Other implementations of a model's step call it too.
   */
  checkStep(params: Float32Array, inputs: BatchInputs, needLabels: boolean): void {
    if (this.disposed) throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `model (${this.config.kind}): used after dispose()`);
    checkBatch(this.config, this.reads, this.denseSize, params, inputs, needLabels);
  }

  /** Applies training step `step`'s dropout masks (dropout.ts); undefined without dropout. */
  private dropoutOf(step: number, batch: number): ForwardContext['drop'] {
    const rate = this.config.dropout ?? 0;
    if (rate === 0) return undefined;
    const key = dropoutKey(this.config.seed ?? 0, step);
    return (layer, h) => tf.mul(h, tf.tensor2d(dropoutMask(key, layer, batch, h.shape[1], rate), [batch, h.shape[1]]));
  }

  /** The formula's view of one step: its parameters by name and the inputs, lists pooled. */
  private context(batch: number, x: InputTensors, slices: tf.Tensor[], drop?: ForwardContext['drop']): ForwardContext {
    const { emb, linear, dense, lengths } = x;
    const ctx: ForwardContext = {
      cfg: this.formulaConfig, batch, p: byName(this.layout, slices), emb, linear, dense, denseFn: this.denseFn, ...(drop ? { drop } : {}),
    };
    const lists = this.config.lists ?? [];
    if (lists.length === 0 || lengths === undefined) return ctx;
    const attend = this.def.attend;
    return {
      ...ctx,
      emb: emb && poolFields(emb, lists, lengths, attend && ((k, h, m, t) => attend(ctx, k, h, m, t))),
      linear: linear && poolFields(linear, lists, lengths),
    };
  }
}
