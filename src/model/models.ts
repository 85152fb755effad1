/**
 * Public surface of the model package: CTR models (LR, FM, DeepFM, Wide&Deep, DCN-v2) that compute
 * forward and backward on parameters pulled from the PS and return gradients to push, plus the
 * start-up choice of the tfjs backend.
 *
 * ```ts
 * import { createModel, selectBackend } from './model/models';
 * await selectBackend(logger, config.tfBackend);
 * const model = createModel({ kind: 'dcn', numFields: 26, embDim: 16, numDense: 13, hidden: [400, 400], crossLayers: 3 });
 * ```
 */
export { createModel } from './registry';
export { validateModelConfig } from './config';
export { selectBackend, BACKEND_NAMES } from './backend';
export type { BackendChoice, BackendDeps, BackendName } from './backend';
export { defaultDenseLayer, denseAutodiff, denseExplicit, denseLayerFn, denseTransposed } from './dense-layers';
export type { Activation, DenseFn } from './dense-layers';
export { describeLayout } from './param-layout';
export { DENSE_LAYER_IMPLS, MODEL_KINDS } from './types';
export type {
  BatchInputs, CtrModel, DenseLayerImpl, ModelConfig, ModelKind, ModelOptions, ParamSlice, StepResult,
} from './types';
