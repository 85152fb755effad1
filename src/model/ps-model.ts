/**
 * `PsModel`: the one `CtrModel` implementation. It binds a `ModelDef` (layout + logit) to the
 * step machinery: cut the flat parameter vector into tensors, run forward under the gradient tape,
 * and copy every gradient back into plain Float32Arrays. All tensors live inside one `tf.tidy`, so
 * a step leaves the tf engine exactly as it found it.
 */
import * as tf from '@tensorflow/tfjs';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { meanLogLoss } from './blocks';
import type { ForwardContext, ModelDef } from './blocks';
import { denseLayerFn } from './dense-layers';
import type { DenseFn } from './dense-layers';
import { checkBatch, inputTensors, sigmoidInto } from './inputs';
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
  private readonly denseFn: DenseFn;
  private disposed = false;

  /** `cfg` must already be validated (createModel does it). */
  constructor(cfg: Readonly<ModelConfig>, def: ModelDef, opts: ModelOptions = {}) {
    const b = new LayoutBuilder();
    def.layout(cfg, b);
    this.config = cfg;
    this.def = def;
    this.layout = b.build();
    this.denseSize = layoutSize(this.layout);
    this.reads = def.reads;
    this.denseFn = denseLayerFn(opts.denseLayer);
  }

  initialDense(): Float32Array {
    return initialVector(this.layout, this.config.seed ?? 0);
  }

  trainStep(params: Float32Array, inputs: BatchInputs): StepResult {
    this.check(params, inputs, true);
    const { numFields: f, embDim: d } = this.config;
    const b = inputs.batch;
    const res: StepResult = {
      loss: NaN,
      probs: new Float32Array(b),
      embGrad: new Float32Array(b * f * d),
      linearGrad: new Float32Array(b * f),
      denseGrad: new Float32Array(this.denseSize),
    };
    tf.tidy(() => {
      const x = inputTensors(this.config, this.reads, inputs);
      const labels = tf.tensor1d(inputs.labels as Float32Array);
      const slices = sliceTensors(this.layout, params);
      const leaves: tf.Tensor[] = [];
      if (x.emb !== undefined) leaves.push(x.emb);
      if (x.linear !== undefined) leaves.push(x.linear);
      const lossOf = (): tf.Scalar => {
        const logits = this.def.logits(this.context(b, x, slices));
        sigmoidInto(logits.dataSync(), res.probs);
        return meanLogLoss(logits, labels);
      };
      const { value, grads } = tf.valueAndGrads(lossOf)([...leaves, ...slices]);
      res.loss = value.dataSync()[0];
      let g = 0;
      if (x.emb !== undefined) res.embGrad.set(grads[g++].dataSync());
      if (x.linear !== undefined) res.linearGrad.set(grads[g++].dataSync());
      for (const s of this.layout) res.denseGrad.set(grads[g++].dataSync(), s.offset);
    });
    return res;
  }

  predict(params: Float32Array, inputs: BatchInputs): Float32Array {
    this.check(params, inputs, false);
    const probs = new Float32Array(inputs.batch);
    tf.tidy(() => {
      const x = inputTensors(this.config, this.reads, inputs);
      const logits = this.def.logits(this.context(inputs.batch, x, sliceTensors(this.layout, params)));
      sigmoidInto(logits.dataSync(), probs);
    });
    return probs;
  }

  /** The model holds no tensors between steps; after dispose() every call throws. */
  dispose(): void {
    this.disposed = true;
  }

  private check(params: Float32Array, inputs: BatchInputs, needLabels: boolean): void {
    if (this.disposed) throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `model (${this.config.kind}): used after dispose()`);
    checkBatch(this.config, this.reads, this.denseSize, params, inputs, needLabels);
  }

  private context(batch: number, x: InputTensors, slices: tf.Tensor[]): ForwardContext {
    return { cfg: this.config, batch, p: byName(this.layout, slices), ...x, denseFn: this.denseFn };
  }
}
