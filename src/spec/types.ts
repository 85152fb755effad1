/**
 * The typed, fully-defaulted job spec that `parseJobSpec` returns. Property names are the
 * camelCase spelling of the YAML keys (`training.batch_size` → `training.batchSize`); see
 * job-spec.ts for the YAML reference. Every object returned by `parseJobSpec` is deeply frozen.
 */
import type { EarlyStopConfig } from '../eval/early-stopping';
import type { OptimizerConfig } from '../ps/optimizers/optimizer';
import type { InitializerConfig } from '../ps/store/initializers';
import type { WeightFormat } from '../ps/store/row-storage';
import type { AdmissionConfig, EvictionConfig } from '../ps/store/table-options';

/** Input formats a job can read (`data.format`). */
export const DATA_FORMATS = ['criteo', 'avazu'] as const;
/** `data.format` */
export type DataFormat = (typeof DATA_FORMATS)[number];

/** Model families (`model.kind`). */
export const MODEL_KINDS = ['lr', 'fm', 'deepfm', 'widedeep', 'dcn', 'din'] as const;
/** `model.kind` */
export type ModelKind = (typeof MODEL_KINDS)[number];

/** Numeric transforms (`features.numeric[i].transform`). */
export const NUMERIC_TRANSFORMS = ['none', 'log', 'bucketize'] as const;
/** `features.numeric[i].transform` */
export type NumericTransform = (typeof NUMERIC_TRANSFORMS)[number];

/** How a list field's element embeddings become one vector (`features.lists[i].pooling`). */
export const LIST_POOLINGS = ['sum', 'mean', 'attention'] as const;
/** `features.lists[i].pooling` */
export type ListPooling = (typeof LIST_POOLINGS)[number];

/** What an empty categorical value becomes (`features.missing_categorical`). */
export const MISSING_CATEGORICAL_POLICIES = ['hash', 'drop'] as const;
/** `features.missing_categorical` */
export type MissingCategoricalPolicy = (typeof MISSING_CATEGORICAL_POLICIES)[number];

/**
 * What each model kind needs from the spec; the validator enforces it and model code may read it.
 * - `mlp`: has an MLP tower, so `model.hidden` applies.
 * - `cross`: has a cross network, so `model.cross_layers` applies.
 * - `equalDims`: pairwise dot products of embeddings, so every table must have the same dim.
 * - `unitDims`: an embedding is the feature's linear weight, so every table must have dim 1.
 * - `needsEmbeddings`: at least one categorical or bucketized field is required.
 * - `attention`: attends over list fields (`pooling: attention`); only such a model accepts them,
 *   and it needs at least one.
 */
export const MODEL_TRAITS: Readonly<Record<ModelKind, Readonly<{
  mlp: boolean; cross: boolean; equalDims: boolean; unitDims: boolean; needsEmbeddings: boolean; attention: boolean;
}>>> = Object.freeze({
  lr: Object.freeze({ mlp: false, cross: false, equalDims: false, unitDims: true, needsEmbeddings: false, attention: false }),
  fm: Object.freeze({ mlp: false, cross: false, equalDims: true, unitDims: false, needsEmbeddings: true, attention: false }),
  deepfm: Object.freeze({ mlp: true, cross: false, equalDims: true, unitDims: false, needsEmbeddings: true, attention: false }),
  widedeep: Object.freeze({ mlp: true, cross: false, equalDims: false, unitDims: false, needsEmbeddings: false, attention: false }),
  dcn: Object.freeze({ mlp: true, cross: true, equalDims: false, unitDims: false, needsEmbeddings: false, attention: false }),
  din: Object.freeze({ mlp: true, cross: false, equalDims: true, unitDims: false, needsEmbeddings: true, attention: true }),
});

/** Defaults of every optional key. */
export const JOB_SPEC_DEFAULTS = Object.freeze({
  maxErrorRate: 0.01,
  transform: 'none' as NumericTransform,
  missingNumeric: 0,
  missingCategorical: 'hash' as MissingCategoricalPolicy,
  hidden: Object.freeze([400, 400]) as readonly number[],
  crossLayers: 3,
  denseOptimizer: Object.freeze({ kind: 'adam', lr: 0.001 }) as OptimizerConfig,
  batchSize: 1024,
  epochs: 1,
  maxInflightPushes: 0,
  denseSyncEvery: 1,
  seed: 0,
  wireEncoding: 'f32' as WireEncoding,
  dataThread: false,
  dropout: 0,
  earlyStopPatience: 1,
  earlyStopMinDelta: 0,
  replication: 'none' as PsReplication,
  listPooling: 'sum' as ListPooling,
});

/** Upper bounds that catch typos (an extra zero) rather than real limits of the system. */
export const JOB_SPEC_LIMITS = Object.freeze({
  maxBatchSize: 1 << 20,
  maxEpochs: 10_000,
  maxInflightPushes: 64,
  maxDenseSyncEvery: 1_000_000,
  maxHiddenLayers: 16,
  maxHiddenWidth: 1 << 16,
  maxCrossLayers: 16,
  maxBoundaries: 10_000,
  /** the model's own bound (src/model/dropout.ts MAX_DROPOUT; a test holds them equal) */
  maxDropout: 0.999,
  /** elements a list field keeps per row (each is a model input slot) */
  maxListLength: 1024,
});

/** `data`: where rows come from. */
export interface DataSpec {
  /** `format`: file layout, which also fixes the column names features may refer to */
  readonly format: DataFormat;
  /** `train`: file, directory or glob of training data; null when the CLI supplies it */
  readonly train: string | null;
  /** `eval`: evaluation data; null when absent */
  readonly eval: string | null;
  /** `max_error_rate`: fraction of malformed lines a reader may skip before failing, in [0, 1] */
  readonly maxErrorRate: number;
}

/** A numeric column fed to the dense input after `none` or `log`. */
export interface DenseNumericFeature {
  /** column name from the format's schema, e.g. `I1` */
  readonly name: string;
  /** `none`: x as is; `log`: `Math.log1p(Math.max(x, 0))` */
  readonly transform: 'none' | 'log';
  /** value substituted for an empty cell, before the transform */
  readonly missing: number;
}

/** A numeric column turned into a categorical id by bucketing. */
export interface BucketizedNumericFeature {
  readonly name: string;
  readonly transform: 'bucketize';
  /** value substituted for an empty cell, before bucketing */
  readonly missing: number;
  /** strictly increasing finite cut points; bucket k = number of boundaries <= x */
  readonly boundaries: readonly number[];
  /** the embedding table the bucket ids go to */
  readonly table: string;
}

/** `features.numeric[i]` (a `names:` entry is expanded into one of these per name). */
export type NumericFeatureSpec = DenseNumericFeature | BucketizedNumericFeature;

/** `features.categorical[i]`: one hashed field. */
export interface CategoricalFeatureSpec {
  /** column name from the format's schema, e.g. `C1`; also the hash salt */
  readonly name: string;
  /** embedding table the field's ids go to */
  readonly table: string;
}

/**
 * `features.lists[i]`: a column holding a variable-length list of ids (a user's click history),
 * `separator`-separated. Each element is hashed like a categorical value and looked up in
 * `table`; the row's element embeddings are pooled into one vector by `pooling`.
 */
export interface ListFeatureSpec {
  /** column name from the format's schema (a categorical column) */
  readonly name: string;
  /** what separates the elements in the cell; never the format's own field delimiter */
  readonly separator: string;
  /** `max_len`: elements kept per row (the last ones when a cell holds more) */
  readonly maxLen: number;
  /** the embedding table the elements are looked up in */
  readonly table: string;
  /** `sum` or `mean` of the element embeddings, or `attention` from `target` (model din) */
  readonly pooling: ListPooling;
  /** `target`: with `attention`, the categorical field (same table) whose embedding attends */
  readonly target?: string;
  /**
   * `hash_as`: the field whose salt hashes the elements, so that an element and the same value in
   * that column get one id (and one row); default the target with attention, else the list itself
   */
  readonly hashAs: string;
}

/** `features.tables[i]`: one embedding table, with every default filled in. */
export interface FeatureTableSpec {
  readonly name: string;
  /** row width */
  readonly dim: number;
  /** optimizer with every hyper-parameter explicit (what `createOptimizer(...).config` returns) */
  readonly optimizer: OptimizerConfig;
  /** row initialiser */
  readonly initializer: InitializerConfig;
  /** uint32 initialiser seed */
  readonly seed: number;
  /** `weight_format`: `f16`, or undefined for the default f32; optimizer state is float32 either way */
  readonly weightFormat?: WeightFormat;
  /** `admission`, defaults filled in; undefined when absent */
  readonly admission?: AdmissionConfig;
  /** `eviction`; undefined when absent */
  readonly eviction?: EvictionConfig;
}

/** `features` */
export interface FeaturesSpec {
  /** dense and bucketized numeric fields, in spec order */
  readonly numeric: readonly NumericFeatureSpec[];
  /** hashed categorical fields, in spec order */
  readonly categorical: readonly CategoricalFeatureSpec[];
  /** list-valued fields, in spec order */
  readonly lists: readonly ListFeatureSpec[];
  /** embedding tables, in spec order */
  readonly tables: readonly FeatureTableSpec[];
  /** `missing_categorical` */
  readonly missingCategorical: MissingCategoricalPolicy;
}

/** `model` */
export interface ModelSpec {
  readonly kind: ModelKind;
  /** MLP layer widths; `[]` for models without an MLP (lr, fm) */
  readonly hidden: readonly number[];
  /** `cross_layers`: cross-network depth; 0 for models other than dcn */
  readonly crossLayers: number;
  /** `dense_optimizer`: optimizer of the dense (MLP, bias, dense-feature) weights, fully defaulted */
  readonly denseOptimizer: OptimizerConfig;
  /** `dropout`: dropout rate of the MLP's hidden layers while training; 0 for none and for models without an MLP */
  readonly dropout: number;
}

/** Encodings of values on the data plane (`training.wire_encoding`). */
export const WIRE_ENCODINGS = Object.freeze(['f32', 'f16'] as const);
/** One of {@link WIRE_ENCODINGS}. */
export type WireEncoding = typeof WIRE_ENCODINGS[number];

/** `training` */
export interface TrainingSpec {
  /** `batch_size`: rows per worker step */
  readonly batchSize: number;
  /** passes over `data.train` */
  readonly epochs: number;
  /** `max_inflight_pushes`: gradient pushes a worker may have unacknowledged; 0 = synchronous */
  readonly maxInflightPushes: number;
  /** `dense_sync_every`: pull dense weights every k steps */
  readonly denseSyncEvery: number;
  /** uint32 seed of shuffling and dense initialisation; default of every table's seed */
  readonly seed: number;
  /**
   * `wire_encoding`: how the worker's pulls and pushes carry values: `f32`, or `f16` (IEEE half
   * floats, half the bytes; the PS still stores and updates in its table's own format)
   */
  readonly wireEncoding: WireEncoding;
  /**
   * `data_thread`: a cluster worker reads, transforms, pulls and pushes on a thread of its own
   * while the model computes on its main thread (same rows, same numbers)
   */
  readonly dataThread: boolean;
  /** `early_stop`: stop when the eval metric stops improving; undefined: train every epoch */
  readonly earlyStop?: EarlyStopConfig;
}

/** `ps.replication`: `buddy` streams each PS's applied updates to a buddy PS for failover (issue 17). */
export type PsReplication = 'buddy' | 'none';
/** The values of `ps.replication`. */
export const PS_REPLICATIONS: readonly PsReplication[] = ['buddy', 'none'];

/** `ps`: how the parameter servers run the job. */
export interface PsSpec {
  /** `replication`: buddy replicas and failover to them, or none (restore from a checkpoint) */
  readonly replication: PsReplication;
}

/** A validated, fully-defaulted, deeply frozen job spec. */
export interface JobSpec {
  /** job name; also names etcd keys and run directories */
  readonly name: string;
  readonly data: DataSpec;
  readonly features: FeaturesSpec;
  readonly model: ModelSpec;
  readonly training: TrainingSpec;
  readonly ps: PsSpec;
}
