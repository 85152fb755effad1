/**
 * Model registry: `model.kind` → definition. Adding a model is one file exporting a `ModelDef`
 * plus one line here.
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { ModelDef } from './blocks';
import { validateModelConfig } from './config';
import { DCN_MODEL } from './dcn';
import { DEEPFM_MODEL } from './deepfm';
import { DIN_MODEL } from './din';
import { FM_MODEL } from './fm';
import { LR_MODEL } from './lr';
import { PsModel } from './ps-model';
import { DENSE_LAYER_IMPLS, WEBGPU_STEPS } from './types';
import type { CtrModel, ModelConfig, ModelKind, ModelOptions } from './types';
import { WIDEDEEP_MODEL } from './widedeep';
import { FusedTowerModel } from './webgpu/fused-tower-model';
import { fusable } from './webgpu/tower-plan';
import { webgpuDevice } from './webgpu/webgpu-backend';

const MODEL_DEFS: Readonly<Record<ModelKind, ModelDef>> = Object.freeze({
  lr: LR_MODEL,
  fm: FM_MODEL,
  deepfm: DEEPFM_MODEL,
  widedeep: WIDEDEEP_MODEL,
  dcn: DCN_MODEL,
  din: DIN_MODEL,
});

/**
 * Validates `cfg` and builds the model. Needs a tfjs backend only when it computes (see
 * `selectBackend`); building it allocates no tensors. When the `webgpu` backend is active, DeepFM
 * and Wide & Deep (with hidden layers) step on fused WGSL kernels (`webgpuStep`, ADR 0015).
 *
 * ```ts
 * await selectBackend(logger, config.tfBackend);
 * const model = createModel({ kind: 'deepfm', numFields: 26, embDim: 16, numDense: 13, hidden: [400, 400] });
 * const params = model.initialDense();            // what the PS dense table starts from
 * const step = await model.trainStep(params, batch); // push step.embGrad, step.linearGrad, step.denseGrad
 * ```
 *
 * @throws TesseraError TESSERA_ERR_CONFIG naming the key, e.g. "model.kind: unknown model 'dfm' …".
 */
export function createModel(cfg: ModelConfig, opts: ModelOptions = {}): CtrModel {
  const valid = validateModelConfig(cfg);
  if (opts.denseLayer !== undefined && !(DENSE_LAYER_IMPLS as readonly string[]).includes(opts.denseLayer)) {
    throw new TesseraError(ERROR_CODES.CONFIG, `denseLayer: unknown dense layer '${opts.denseLayer}' (expected one of ${DENSE_LAYER_IMPLS.join(', ')})`);
  }
  if (opts.webgpuStep !== undefined && !(WEBGPU_STEPS as readonly string[]).includes(opts.webgpuStep)) {
    throw new TesseraError(ERROR_CODES.CONFIG, `webgpuStep: unknown step '${opts.webgpuStep}' (expected one of ${WEBGPU_STEPS.join(', ')})`);
  }
  const model = new PsModel(valid, MODEL_DEFS[valid.kind], opts);
  const device = opts.webgpuStep === 'tfjs' ? undefined : webgpuDevice();
  return device !== undefined && fusable(valid) ? new FusedTowerModel(model, device) : model;
}
