/**
 * Public types of the CTR models. The parameter server owns every weight: per batch the worker
 * pulls embedding rows and the flat dense-parameter vector, calls `trainStep`, and pushes the
 * returned gradients back. A model therefore holds no trainable tf.Variable and no optimizer.
 */

/** Model families (`model.kind` in a job spec). */
export const MODEL_KINDS = ['lr', 'fm', 'deepfm', 'widedeep', 'dcn', 'din'] as const;
/** `model.kind` */
export type ModelKind = (typeof MODEL_KINDS)[number];

/** How a list input's element embeddings become one vector (`attention`: model din only). */
export type ListPooling = 'sum' | 'mean' | 'attention';

/**
 * A list input (a user's click history): `length` adjacent fields of the F input fields starting
 * at `offset`, of which each row's first `listLengths` are present. The model pools them into
 * one field before anything else sees them, so the rest of the model sees F − Σ(length − 1)
 * fields, each list where its first element was.
 */
export interface ListInput {
  /** Field index of element 0. */
  offset: number;
  /** Elements (fields) the list takes, its `max_len`. */
  length: number;
  pooling: ListPooling;
  /** With `attention`: field index (outside every list) of the target that attends. */
  target?: number;
}

/** Shape of one model; validated by `createModel`. */
export interface ModelConfig {
  kind: ModelKind;
  /** Categorical fields F (each list element is one field). */
  numFields: number;
  /** Embedding dim D, the same for every field. */
  embDim: number;
  /** Numeric features. */
  numDense: number;
  /** Hidden widths of the MLP tower (deepfm, widedeep, dcn); ignored by lr and fm. */
  hidden: number[];
  /** Cross layers of DCN-v2 (default 3); ignored by the other kinds. */
  crossLayers?: number;
  /**
   * Dropout rate of the MLP tower's hidden layers during `trainStep` (default 0: none), in
   * [0, 0.999]; see dropout.ts. Ignored by models without hidden layers.
   */
  dropout?: number;
  /** Seed of `initialDense` and of the dropout masks (default 0). */
  seed?: number;
  /** List inputs, ascending and disjoint (default none); din needs one with attention. */
  lists?: ListInput[];
}

/** One batch, already gathered per field. All arrays are row-major. */
export interface BatchInputs {
  /** Batch size B. */
  batch: number;
  /** [B × F × D] field embeddings; a dropped or missing field is all-zero. */
  emb: Float32Array;
  /** [B × F] first-order (wide) weight of each field's value, from a dim-1 PS table. */
  linear: Float32Array;
  /** [B × numDense] numeric features. */
  dense: Float32Array;
  /** [B] labels in {0, 1}; required by `trainStep`. */
  labels?: Float32Array;
  /** [B × lists] elements present in each row's lists (config order); required with lists. */
  listLengths?: Float32Array;
}

/**
 * What one forward + backward pass returns. Gradients are of the MEAN loss over the batch. Its
 * arrays are the caller's own, new each step, never written by the model again: the Trainer
 * hands the dense gradient to the push without a copy.
 */
export interface StepResult {
  /** Mean sigmoid cross-entropy (log loss). */
  loss: number;
  /** [B] predicted click probabilities. */
  probs: Float32Array;
  /** [B × F × D] dLoss/d emb; all zero when the model does not read `emb` (lr). */
  embGrad: Float32Array;
  /** [B × F] dLoss/d linear; all zero when the model does not read `linear` (dcn). */
  linearGrad: Float32Array;
  /** [denseSize] dLoss/d params, laid out as `CtrModel.layout`. */
  denseGrad: Float32Array;
}

/** One named piece of the flat dense-parameter vector. */
export interface ParamSlice {
  /** Stable name, e.g. `mlp.0.w`. */
  readonly name: string;
  /** Row-major shape: `[fanIn, fanOut]` for weights, `[n]` for biases. */
  readonly shape: readonly number[];
  /** First element in the flat vector. */
  readonly offset: number;
  /** Product of `shape`. */
  readonly size: number;
  /** `glorot` (uniform, limit sqrt(6 / (fanIn + fanOut))) or `zeros`. */
  readonly init: 'glorot' | 'zeros';
}

/** A CTR model that computes on parameters it is given. */
export interface CtrModel {
  readonly config: Readonly<ModelConfig>;
  /** Length of the flat dense-parameter vector. */
  readonly denseSize: number;
  /** The named slices of the flat vector, in order; stable for a given config. */
  readonly layout: readonly ParamSlice[];
  /** Which batch inputs the model reads; a worker may skip pulling a table it ignores. */
  readonly reads: Readonly<{ emb: boolean; linear: boolean }>;
  /**
   * Seeded Glorot-uniform init of the flat vector; biases and the linear weights of numeric
   * inputs 0. Same bits for the same config.
   */
  initialDense(): Float32Array;
  /**
   * Forward + backward; gradients of the mean loss. Needs `inputs.labels`. Asynchronous because
   * a GPU backend reads its results back asynchronously (one readback per step); every backend
   * gives the same results through this interface. A GPU model may run a second call while the
   * first is still in flight (its upload then overlaps the first one's compute).
   */
  trainStep(params: Float32Array, inputs: BatchInputs): Promise<StepResult>;
  /** Forward only; probabilities [B]. */
  predict(params: Float32Array, inputs: BatchInputs): Promise<Float32Array>;
  /** Releases what the model holds (no tensors live between steps); later calls throw. */
  dispose(): void;
}

/**
 * How dense layers compute their backward pass. The default is the fastest for the kernels
 * registered when the model is built (`defaultDenseLayer()` in dense-layers.ts).
 * - `explicit-transpose` (default on the wasm backend's own kernels): `tf.customGrad` with
 *   materialised `tf.transpose` and plain matMuls: 4.3–6.5× faster than `autodiff` there for
 *   DeepFM at batch 1024 (bench/model-bench.ts; 5.3× for the bare MLP).
 * - `transposed-matmul` (default with the native OpenBLAS kernels): the same customGrad with
 *   matMul's transpose flags, which BLAS runs at full speed, so no transposed copies.
 * - `autodiff`: tfjs's own gradient of `matMul`, which uses transposeA/transposeB matMuls.
 */
export const DENSE_LAYER_IMPLS = ['explicit-transpose', 'transposed-matmul', 'autodiff'] as const;
/** One of `DENSE_LAYER_IMPLS`. */
export type DenseLayerImpl = (typeof DENSE_LAYER_IMPLS)[number];

/**
 * How a model steps on the `webgpu` backend:
 * - `fused` (default where the model supports it: DeepFM and Wide&Deep with at least one hidden
 *   layer): Tessera's own WGSL kernels with the dense weights resident on the GPU
 *   (src/model/webgpu/, ADR 0015);
 * - `tfjs`: the same graph as on the other backends, op by op through tfjs-backend-webgpu.
 */
export const WEBGPU_STEPS = ['fused', 'tfjs'] as const;
/** One of `WEBGPU_STEPS`. */
export type WebgpuStep = (typeof WEBGPU_STEPS)[number];

/** Options of `createModel` that do not change the math. */
export interface ModelOptions {
  denseLayer?: DenseLayerImpl;
  /**
   * The caller never changes a `params` array it passed to `predict` (a served model version):
   * its weights stay uploaded as tensors while the same array comes back, instead of being
   * copied into the backend on every call (1.3 MB for DeepFM 400-400). Default false: training
   * and evaluation may update the array in place between calls.
   */
  constantWeights?: boolean;
  /** Ignored on other backends. */
  webgpuStep?: WebgpuStep;
  /**
   * On the wasm backend with the native OpenBLAS kernels installed, DeepFM and Wide & Deep (with
   * hidden layers, without lists) step on the native tower step (native-tower-step.ts, ADR 0046)
   * instead of op by op through tfjs. Default true unless `TESSERA_NATIVE_STEP=0`; false keeps
   * the tfjs graph (the dense-layer comparisons of bench:model, A/B runs).
   */
  nativeStep?: boolean;
}
