/**
 * Job specs: the one YAML file describing a training job (job-spec.ts documents every key), its
 * canonical form and fingerprints, and the feature transform shared by training and serving.
 */
export { loadJobSpec, parseJobSpec, JobSpecError } from './job-spec';
export { jobSpecToPlain, jobSpecToYaml, modelFingerprint, specFingerprint, FINGERPRINT_HEX_CHARS } from './canonical';
export { embeddingTableSpecs } from './ps-config';
export { DENSE_TABLE, denseTable, jobTables, linearTableOf } from './job-tables';
export type { ModelReads } from './job-tables';
export { FeatureTransformer, bucketIndex } from './transform';
export type { RawRow, TransformedBatch } from './transform';
export { FORMAT_SCHEMAS, CRITEO_SCHEMA, AVAZU_SCHEMA } from './formats';
export type { FeatureSchema } from './formats';
export { JOB_NAME_PATTERN } from '../membership/keys';
export {
  DATA_FORMATS, MODEL_KINDS, NUMERIC_TRANSFORMS, MISSING_CATEGORICAL_POLICIES, MODEL_TRAITS,
  JOB_SPEC_DEFAULTS, JOB_SPEC_LIMITS, LIST_POOLINGS,
} from './types';
export type {
  JobSpec, DataSpec, FeaturesSpec, ModelSpec, TrainingSpec, NumericFeatureSpec, DenseNumericFeature,
  BucketizedNumericFeature, CategoricalFeatureSpec, FeatureTableSpec, DataFormat, ModelKind, NumericTransform,
  MissingCategoricalPolicy, ListFeatureSpec, ListPooling,
} from './types';
