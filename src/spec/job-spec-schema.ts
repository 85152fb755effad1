/**
 * The job spec as a JSON Schema (draft-07), built from the validator's own definitions: its key
 * lists, enums, defaults and limits. Editors use it to complete and check a spec
 * (`# yaml-language-server: $schema=…`); `npm run gen:schema` writes it to
 * docs/job-spec.schema.json, and a test checks the committed file is what this builds.
 *
 * The schema checks each value's shape; what needs the whole spec stays with the validator: field
 * names against the data format's columns, table references, a model's dim rules.
 *
 * ```ts
 * fs.writeFileSync('docs/job-spec.schema.json', jobSpecSchemaText());
 * ```
 */
import { JOB_NAME_PATTERN } from '../membership/keys';
import { OPTIMIZER_KINDS } from '../ps/optimizers/registry';
import { WEIGHT_FORMATS } from '../ps/store/row-storage';
import { MAX_EMBEDDING_DIM, TABLE_NAME_PATTERN } from '../ps/store/table-spec';
import {
  DATA_FORMATS, JOB_SPEC_DEFAULTS as D, JOB_SPEC_LIMITS as L, LIST_POOLINGS, MISSING_CATEGORICAL_POLICIES, MODEL_KINDS,
  NUMERIC_TRANSFORMS, PS_REPLICATIONS, WIRE_ENCODINGS,
} from './types';
import { LIST_KEYS } from './validate-lists';
import { EARLY_STOP_METRICS } from '../eval/early-stopping';
import { DATA_KEYS, EARLY_STOP_KEYS, MODEL_KEYS, PS_KEYS, TOP_KEYS, TRAINING_KEYS } from './validate';
import {
  CATEGORICAL_KEYS, FEATURES_KEYS, NUMERIC_KEYS, TABLE_DEFAULT_KEYS, TABLE_KEYS,
} from './validate-features';

/** A JSON Schema node. */
export type SchemaNode = Record<string, unknown>;

const UINT32_MAX = 0xffffffff;

const int = (minimum: number, maximum: number, dflt?: number): SchemaNode =>
  ({ type: 'integer', minimum, maximum, ...(dflt === undefined ? {} : { default: dflt }) });
const text = (): SchemaNode => ({ type: 'string', minLength: 1 });
const names = (): SchemaNode => ({ type: 'array', minItems: 1, items: text() });
const mappingOf = (): SchemaNode => ({ type: 'object' });

/**
 * An object node accepting exactly `keys` (the validator's list), each described in `props`.
 * Throws when a key has no description, so a key added to the validator cannot be forgotten here.
 */
function section(what: string, keys: readonly string[], props: Record<string, SchemaNode>, required: string[] = []): SchemaNode {
  const missing = keys.filter((k) => !(k in props));
  const extra = Object.keys(props).filter((k) => !keys.includes(k));
  if (missing.length > 0 || extra.length > 0) {
    throw new Error(`job-spec schema, ${what}: keys without a schema [${missing.join(', ')}], schemas without a key [${extra.join(', ')}]`);
  }
  return { type: 'object', additionalProperties: false, required, properties: Object.fromEntries(keys.map((k) => [k, props[k]])) };
}

const optimizer = (): SchemaNode => ({
  type: 'object', required: ['kind'], properties: { kind: { enum: [...OPTIMIZER_KINDS] }, lr: { type: 'number' } },
  description: 'an optimizer: kind plus its snake_case parameters (docs/usage.md)',
});

function memory(): Record<string, SchemaNode> {
  return { weight_format: { enum: [...WEIGHT_FORMATS], default: 'f32' }, admission: mappingOf(), eviction: mappingOf() };
}

function tableDefaults(): SchemaNode {
  return section('features.table_defaults', TABLE_DEFAULT_KEYS, {
    dim: int(1, MAX_EMBEDDING_DIM), optimizer: optimizer(), initializer: mappingOf(), ...memory(),
  });
}

function table(): SchemaNode {
  return section('features.tables[]', TABLE_KEYS, {
    name: { type: 'string', pattern: TABLE_NAME_PATTERN.source }, dim: int(1, MAX_EMBEDDING_DIM), optimizer: optimizer(),
    initializer: mappingOf(), seed: int(0, UINT32_MAX), ...memory(),
  }, ['name']);
}

const oneName = { oneOf: [{ required: ['name'] }, { required: ['names'] }] };

function features(): SchemaNode {
  const numeric = section('features.numeric[]', NUMERIC_KEYS, {
    name: text(), names: names(), transform: { enum: [...NUMERIC_TRANSFORMS], default: D.transform },
    missing: { type: 'number', default: D.missingNumeric },
    boundaries: { type: 'array', minItems: 1, maxItems: L.maxBoundaries, items: { type: 'number' } }, table: text(),
  });
  const categorical = section('features.categorical[]', CATEGORICAL_KEYS, { name: text(), names: names(), table: text() }, ['table']);
  const lists = section('features.lists[]', LIST_KEYS, {
    name: text(), names: names(), separator: text(), max_len: int(1, L.maxListLength), table: text(),
    pooling: { enum: [...LIST_POOLINGS], default: D.listPooling }, target: text(), hash_as: text(),
  }, ['separator', 'max_len', 'table']);
  return section('features', FEATURES_KEYS, {
    numeric: { type: 'array', items: { ...numeric, ...oneName } },
    categorical: { type: 'array', items: { ...categorical, ...oneName } },
    lists: { type: 'array', items: { ...lists, ...oneName } },
    tables: { type: 'array', items: table() },
    table_defaults: tableDefaults(),
    missing_categorical: { enum: [...MISSING_CATEGORICAL_POLICIES], default: D.missingCategorical },
  });
}

/** The job spec's JSON Schema (draft-07). */
export function jobSpecSchema(): SchemaNode {
  const path = { type: ['string', 'null'], minLength: 1 };
  const spec = section('the top level', TOP_KEYS, {
    name: { type: 'string', pattern: JOB_NAME_PATTERN.source },
    data: section('data', DATA_KEYS, {
      format: { enum: [...DATA_FORMATS] }, train: path, eval: path,
      max_error_rate: { type: 'number', minimum: 0, maximum: 1, default: D.maxErrorRate },
    }, ['format']),
    features: features(),
    model: section('model', MODEL_KEYS, {
      kind: { enum: [...MODEL_KINDS] },
      hidden: { type: 'array', minItems: 1, maxItems: L.maxHiddenLayers, items: int(1, L.maxHiddenWidth), default: [...D.hidden] },
      cross_layers: int(1, L.maxCrossLayers, D.crossLayers),
      dense_optimizer: { ...optimizer(), default: D.denseOptimizer },
      dropout: { type: 'number', minimum: 0, maximum: L.maxDropout, default: D.dropout },
    }, ['kind']),
    training: section('training', TRAINING_KEYS, {
      batch_size: int(1, L.maxBatchSize, D.batchSize), epochs: int(1, L.maxEpochs, D.epochs),
      max_inflight_pushes: int(0, L.maxInflightPushes, D.maxInflightPushes),
      dense_sync_every: int(1, L.maxDenseSyncEvery, D.denseSyncEvery), seed: int(0, UINT32_MAX, D.seed),
      wire_encoding: { enum: [...WIRE_ENCODINGS], default: D.wireEncoding },
      data_thread: { type: 'boolean', default: D.dataThread },
      early_stop: section('training.early_stop', EARLY_STOP_KEYS, {
        metric: { enum: [...EARLY_STOP_METRICS], default: 'auc' },
        patience: int(1, L.maxEpochs, D.earlyStopPatience),
        min_delta: { type: 'number', minimum: 0, maximum: 1, default: D.earlyStopMinDelta },
      }),
    }),
    ps: section('ps', PS_KEYS, {
      replication: { enum: [...PS_REPLICATIONS], default: D.replication },
    }),
  }, ['name', 'data', 'features', 'model']);
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://github.com/tessera-ps/tessera/docs/job-spec.schema.json',
    title: 'Tessera job spec',
    description: 'Generated from src/spec/validate*.ts by npm run gen:schema; do not edit.',
    ...spec,
  };
}

/** The schema as the committed file holds it: two-space JSON and a final newline. */
export function jobSpecSchemaText(): string {
  return `${JSON.stringify(jobSpecSchema(), null, 2)}\n`;
}
