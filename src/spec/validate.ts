/**
 * Validation of a parsed YAML document into a `JobSpec`: the top level, `data`, `model`,
 * `training`, and the checks that tie the model to the features. `features` lives in
 * validate-features.ts. Sections are checked in dependency order (training's seed is the tables'
 * default seed; data's format fixes the column names), and the first failure is thrown.
 */
import { EARLY_STOP_METRICS } from '../eval/early-stopping';
import type { EarlyStopConfig } from '../eval/early-stopping';
import { JOB_NAME_PATTERN } from '../membership/keys';
import { FORMAT_SCHEMAS } from './formats';
import { specOptimizer } from './ps-config';
import { at, fail, flag, list, mapping, num, oneOf, str } from './spec-error';
import {
  DATA_FORMATS, DataSpec, PS_REPLICATIONS, PsSpec, FeaturesSpec, JOB_SPEC_DEFAULTS, JOB_SPEC_LIMITS, JobSpec, MODEL_KINDS, MODEL_TRAITS,
  ModelSpec, TrainingSpec, WIRE_ENCODINGS,
} from './types';
import { validateFeatures } from './validate-features';
import { checkListsForModel } from './validate-lists';

/** The keys of each section the validator accepts (docs/job-spec.schema.json is built from them). */
export const TOP_KEYS = ['name', 'data', 'features', 'model', 'training', 'ps'];
/** The keys of `ps`. */
export const PS_KEYS = ['replication'];
/** The keys of `data`. */
export const DATA_KEYS = ['format', 'train', 'eval', 'max_error_rate'];
/** The keys of `model`. */
export const MODEL_KEYS = ['kind', 'hidden', 'cross_layers', 'dense_optimizer', 'dropout'];
/** The keys of `training`. */
export const TRAINING_KEYS = ['batch_size', 'epochs', 'max_inflight_pushes', 'dense_sync_every', 'seed', 'wire_encoding', 'data_thread', 'early_stop'];
/** The keys of `training.early_stop`. */
export const EARLY_STOP_KEYS = ['metric', 'patience', 'min_delta'];

/**
 * Validates a plain object (YAML already parsed) and returns the fully-defaulted, deeply frozen
 * spec. Throws a JobSpecError naming the key path of the first problem.
 */
export function validateJobSpec(doc: unknown): JobSpec {
  if (doc === null || doc === undefined) fail('', 'the spec is empty');
  const o = mapping('', doc, TOP_KEYS);
  if (o.name === undefined) fail('name', 'required');
  const name = str('name', o.name);
  if (!JOB_NAME_PATTERN.test(name)) fail('name', `must be 1-128 characters of [A-Za-z0-9_.-] (got ${JSON.stringify(name)})`);
  const training = validateTraining('training', o.training ?? {});
  if (o.data === undefined) fail('data', 'required (at least data.format)');
  const data = validateData('data', o.data);
  if (o.model === undefined) fail('model', 'required (at least model.kind)');
  const model = validateModel('model', o.model);
  if (o.features === undefined) fail('features', 'required');
  const features = validateFeatures('features', o.features, {
    format: data.format, schema: FORMAT_SCHEMAS[data.format], seed: training.seed,
  });
  checkModelFeatures(model, features);
  const ps = validatePs('ps', o.ps ?? {});
  return deepFreeze({ name, data, features, model, training, ps });
}

function optionalPath(path: string, v: unknown): string | null {
  return v === undefined || v === null ? null : str(path, v);
}

function validateData(path: string, v: unknown): DataSpec {
  const o = mapping(path, v, DATA_KEYS);
  return {
    format: oneOf(at(path, 'format'), o.format, DATA_FORMATS, 'format'),
    train: optionalPath(at(path, 'train'), o.train),
    eval: optionalPath(at(path, 'eval'), o.eval),
    maxErrorRate: num(at(path, 'max_error_rate'), o.max_error_rate, { min: 0, max: 1 }, JOB_SPEC_DEFAULTS.maxErrorRate),
  };
}

function validateModel(path: string, v: unknown): ModelSpec {
  const o = mapping(path, v, MODEL_KEYS);
  const kind = oneOf(at(path, 'kind'), o.kind, MODEL_KINDS, 'model');
  const traits = MODEL_TRAITS[kind];
  if (!traits.mlp && o.hidden !== undefined) fail(at(path, 'hidden'), `not used by model ${kind} (it has no MLP)`);
  if (!traits.cross && o.cross_layers !== undefined) fail(at(path, 'cross_layers'), `only used by model dcn (model is ${kind})`);
  if (!traits.mlp && o.dropout !== undefined) fail(at(path, 'dropout'), `not used by model ${kind} (it has no MLP)`);
  const hidden = traits.mlp ? hiddenLayers(at(path, 'hidden'), o.hidden) : [];
  const crossLayers = traits.cross
    ? num(at(path, 'cross_layers'), o.cross_layers,
      { integer: true, min: 1, max: JOB_SPEC_LIMITS.maxCrossLayers }, JOB_SPEC_DEFAULTS.crossLayers)
    : 0;
  const denseOptimizer = specOptimizer(at(path, 'dense_optimizer'), o.dense_optimizer ?? JOB_SPEC_DEFAULTS.denseOptimizer);
  const dropout = num(at(path, 'dropout'), o.dropout, { min: 0, max: JOB_SPEC_LIMITS.maxDropout }, JOB_SPEC_DEFAULTS.dropout);
  return { kind, hidden, crossLayers, denseOptimizer, dropout };
}

function hiddenLayers(path: string, v: unknown): number[] {
  if (v === undefined) return [...JOB_SPEC_DEFAULTS.hidden];
  const widths = list(path, v);
  if (widths.length === 0 || widths.length > JOB_SPEC_LIMITS.maxHiddenLayers) {
    fail(path, `must list 1 to ${JOB_SPEC_LIMITS.maxHiddenLayers} layer widths (got ${widths.length})`);
  }
  return widths.map((w, i) => num(`${path}[${i}]`, w, { integer: true, min: 1, max: JOB_SPEC_LIMITS.maxHiddenWidth }));
}

function validateTraining(path: string, v: unknown): TrainingSpec {
  const o = mapping(path, v, TRAINING_KEYS);
  const d = JOB_SPEC_DEFAULTS;
  const L = JOB_SPEC_LIMITS;
  const int = (key: string, min: number, max: number, fallback: number): number =>
    num(at(path, key), o[key], { integer: true, min, max }, fallback);
  return {
    batchSize: int('batch_size', 1, L.maxBatchSize, d.batchSize),
    epochs: int('epochs', 1, L.maxEpochs, d.epochs),
    maxInflightPushes: int('max_inflight_pushes', 0, L.maxInflightPushes, d.maxInflightPushes),
    denseSyncEvery: int('dense_sync_every', 1, L.maxDenseSyncEvery, d.denseSyncEvery),
    seed: int('seed', 0, 0xffffffff, d.seed),
    wireEncoding: oneOf(at(path, 'wire_encoding'), o.wire_encoding, WIRE_ENCODINGS, 'wire encoding', d.wireEncoding),
    dataThread: flag(at(path, 'data_thread'), o.data_thread, d.dataThread),
    ...(o.early_stop === undefined ? {} : { earlyStop: earlyStop(at(path, 'early_stop'), o.early_stop) }),
  };
}

/** `ps: { replication: buddy | none }`. */
function validatePs(path: string, v: unknown): PsSpec {
  const o = mapping(path, v, PS_KEYS);
  return { replication: oneOf(at(path, 'replication'), o.replication, PS_REPLICATIONS, 'replication mode', JOB_SPEC_DEFAULTS.replication) };
}

/** `training.early_stop: { metric: auc | logloss [auc], patience: N [1], min_delta: x [0] }`. */
function earlyStop(path: string, v: unknown): EarlyStopConfig {
  const o = mapping(path, v, EARLY_STOP_KEYS);
  return {
    metric: oneOf(at(path, 'metric'), o.metric, EARLY_STOP_METRICS, 'metric', 'auc'),
    patience: num(at(path, 'patience'), o.patience, { integer: true, min: 1, max: JOB_SPEC_LIMITS.maxEpochs }, JOB_SPEC_DEFAULTS.earlyStopPatience),
    minDelta: num(at(path, 'min_delta'), o.min_delta, { min: 0, max: 1 }, JOB_SPEC_DEFAULTS.earlyStopMinDelta),
  };
}

/** Embedding-shape requirements of the model kind (see MODEL_TRAITS). */
function checkModelFeatures(model: ModelSpec, features: FeaturesSpec): void {
  const traits = MODEL_TRAITS[model.kind];
  const tables = features.tables;
  checkListsForModel(model.kind, features.lists);
  if (traits.needsEmbeddings && tables.length === 0) {
    fail('features', `model ${model.kind} needs at least one categorical or bucketized field`);
  }
  if (traits.unitDims) {
    const i = tables.findIndex((t) => t.dim !== 1);
    if (i >= 0) {
      fail(`features.tables[${i}].dim`, `model ${model.kind} needs every table to have dim 1 (its embeddings are linear `
        + `weights); table "${tables[i].name}" has dim ${tables[i].dim}`);
    }
  }
  if (traits.equalDims && tables.length > 0) {
    const i = tables.findIndex((t) => t.dim !== tables[0].dim);
    if (i >= 0) {
      fail(`features.tables[${i}].dim`, `model ${model.kind} needs every table to have the same dim; table `
        + `"${tables[i].name}" has dim ${tables[i].dim} but table "${tables[0].name}" has dim ${tables[0].dim}`);
    }
  }
}

/** Freezes `v` and everything reachable from it; returns it. */
function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}
