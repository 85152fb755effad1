/**
 * Validation of the `features` section: numeric and categorical fields, embedding tables, and the
 * cross-references between them (every field known to the format and listed once, every table
 * referenced defined, every table defined referenced).
 */
import { DEFAULT_INITIALIZER } from '../ps/store/initializers';
import type { OptimizerConfig } from '../ps/optimizers/optimizer';
import type { InitializerConfig } from '../ps/store/initializers';
import type { FeatureSchema } from './formats';
import {
  specAdmission, specDim, specEviction, specInitializer, specOptimizer, specSeed, specTableName, specWeightFormat,
} from './ps-config';
import type { WeightFormat } from '../ps/store/row-storage';
import type { AdmissionConfig, EvictionConfig } from '../ps/store/table-options';
import { at, fail, list, mapping, num, oneOf, str } from './spec-error';
import {
  CategoricalFeatureSpec, FeaturesSpec, FeatureTableSpec, JOB_SPEC_DEFAULTS, JOB_SPEC_LIMITS, ListFeatureSpec,
  MISSING_CATEGORICAL_POLICIES, NUMERIC_TRANSFORMS, NumericFeatureSpec,
} from './types';
import { checkListTargets, LIST_KEYS, listEntry } from './validate-lists';

/** The keys of `features` (docs/job-spec.schema.json is built from these lists). */
export const FEATURES_KEYS = ['numeric', 'categorical', 'lists', 'tables', 'table_defaults', 'missing_categorical'];
/** The keys of a `features.numeric` entry. */
export const NUMERIC_KEYS = ['name', 'names', 'transform', 'missing', 'boundaries', 'table'];
/** The keys of a `features.categorical` entry. */
export const CATEGORICAL_KEYS = ['name', 'names', 'table'];
/** A table's memory keys, in `tables` entries and `table_defaults`. */
export const MEMORY_KEYS = ['weight_format', 'admission', 'eviction'];
/** The keys of a `features.tables` entry. */
export const TABLE_KEYS = ['name', 'dim', 'optimizer', 'initializer', 'seed', ...MEMORY_KEYS];
/** The keys of `features.table_defaults`. */
export const TABLE_DEFAULT_KEYS = ['dim', 'optimizer', 'initializer', ...MEMORY_KEYS];

/** What the features section is checked against. */
export interface FeatureContext {
  /** `data.format`, for messages */
  format: string;
  /** the format's column names */
  schema: FeatureSchema;
  /** `training.seed`: the default table seed */
  seed: number;
}

/** A field name and where it was written. */
interface Named {
  name: string;
  path: string;
}

/** Bookkeeping shared by the field parsers: where each field and each table reference was seen. */
interface Refs {
  fields: Map<string, string>;
  tables: Named[];
}

/** Validates `features`; see job-spec.ts for the keys. */
export function validateFeatures(path: string, v: unknown, ctx: FeatureContext): FeaturesSpec {
  const o = mapping(path, v, FEATURES_KEYS);
  const refs: Refs = { fields: new Map(), tables: [] };
  const numeric = list(at(path, 'numeric'), o.numeric ?? []).flatMap((e, i) =>
    numericEntry(`${at(path, 'numeric')}[${i}]`, e, ctx, refs));
  const categorical = list(at(path, 'categorical'), o.categorical ?? []).flatMap((e, i) =>
    categoricalEntry(`${at(path, 'categorical')}[${i}]`, e, ctx, refs));
  const lists = list(at(path, 'lists'), o.lists ?? []).flatMap((e, i) =>
    listEntries(`${at(path, 'lists')}[${i}]`, e, ctx, refs));
  if (numeric.length + categorical.length + lists.length === 0) fail(path, 'needs at least one numeric, categorical or list field');
  const defaults = tableDefaults(at(path, 'table_defaults'), o.table_defaults);
  const tablesPath = at(path, 'tables');
  const tables = list(tablesPath, o.tables ?? []).map((e, i) => tableEntry(`${tablesPath}[${i}]`, e, defaults, ctx.seed));
  checkTableRefs(tablesPath, tables, refs.tables);
  checkListTargets(at(path, 'lists'), lists, categorical);
  const missingCategorical = oneOf(at(path, 'missing_categorical'), o.missing_categorical,
    MISSING_CATEGORICAL_POLICIES, 'policy', JOB_SPEC_DEFAULTS.missingCategorical);
  return { numeric, categorical, lists, tables, missingCategorical };
}

/**
 * The field names of an entry: `name: X` or `names: [X, Y]` (exactly one of them), each checked
 * against the format's columns and against every field seen so far.
 */
function entryNames(path: string, o: Record<string, unknown>, columns: readonly string[], kind: string,
  ctx: FeatureContext, refs: Refs): Named[] {
  if (o.name !== undefined && o.names !== undefined) fail(path, 'give either name or names, not both');
  let named: Named[];
  if (o.names !== undefined) {
    const names = list(at(path, 'names'), o.names);
    if (names.length === 0) fail(at(path, 'names'), 'must list at least one field');
    named = names.map((n, i) => ({ name: str(`${at(path, 'names')}[${i}]`, n), path: `${at(path, 'names')}[${i}]` }));
  } else {
    if (o.name === undefined) fail(at(path, 'name'), 'required (or names: [...])');
    named = [{ name: str(at(path, 'name'), o.name), path: at(path, 'name') }];
  }
  for (const { name, path: p } of named) {
    if (!columns.includes(name)) {
      fail(p, `unknown ${kind} field "${name}" for format ${ctx.format} (expected one of ${columns.join(', ') || 'none'})`);
    }
    const first = refs.fields.get(name);
    if (first !== undefined) fail(p, `field "${name}" is listed twice (first at ${first})`);
    refs.fields.set(name, p);
  }
  return named;
}

function numericEntry(path: string, v: unknown, ctx: FeatureContext, refs: Refs): NumericFeatureSpec[] {
  const o = mapping(path, v, NUMERIC_KEYS);
  const named = entryNames(path, o, ctx.schema.numericNames, 'numeric', ctx, refs);
  const transform = oneOf(at(path, 'transform'), o.transform, NUMERIC_TRANSFORMS, 'transform', JOB_SPEC_DEFAULTS.transform);
  const missing = num(at(path, 'missing'), o.missing, {}, JOB_SPEC_DEFAULTS.missingNumeric);
  if (transform !== 'bucketize') {
    for (const k of ['boundaries', 'table']) {
      if (o[k] !== undefined) fail(at(path, k), `only used with transform: bucketize (transform is ${transform})`);
    }
    return named.map(({ name }) => ({ name, transform, missing }));
  }
  const boundaries = bucketBoundaries(at(path, 'boundaries'), o.boundaries);
  const table = str(at(path, 'table'), o.table);
  refs.tables.push({ name: table, path: at(path, 'table') });
  return named.map(({ name }) => ({ name, transform, missing, boundaries, table }));
}

/** Non-empty, finite and strictly increasing (so every bucket is non-empty and well defined). */
function bucketBoundaries(path: string, v: unknown): number[] {
  if (v === undefined) fail(path, 'required with transform: bucketize (a sorted list of cut points)');
  const raw = list(path, v);
  if (raw.length === 0) fail(path, 'must list at least one boundary');
  if (raw.length > JOB_SPEC_LIMITS.maxBoundaries) fail(path, `must list at most ${JOB_SPEC_LIMITS.maxBoundaries} boundaries`);
  const out = raw.map((b, i) => num(`${path}[${i}]`, b, {}));
  for (let i = 1; i < out.length; i++) {
    if (!(out[i] > out[i - 1])) fail(`${path}[${i}]`, `boundaries must be strictly increasing (${out[i]} after ${out[i - 1]})`);
  }
  return out;
}

/** An entry's required `table` (`what` it is for, in the message), recorded as a reference. */
function tableRef(path: string, o: Record<string, unknown>, refs: Refs, what: string): string {
  if (o.table === undefined) fail(at(path, 'table'), `required (${what})`);
  const table = str(at(path, 'table'), o.table);
  refs.tables.push({ name: table, path: at(path, 'table') });
  return table;
}

function categoricalEntry(path: string, v: unknown, ctx: FeatureContext, refs: Refs): CategoricalFeatureSpec[] {
  const o = mapping(path, v, CATEGORICAL_KEYS);
  const named = entryNames(path, o, ctx.schema.categoricalNames, 'categorical', ctx, refs);
  const table = tableRef(path, o, refs, 'the embedding table this field is hashed into');
  return named.map(({ name }) => ({ name, table }));
}

/** A `features.lists` entry (a categorical column holding a list of ids): one spec per name. */
function listEntries(path: string, v: unknown, ctx: FeatureContext, refs: Refs): ListFeatureSpec[] {
  const o = mapping(path, v, LIST_KEYS);
  const named = entryNames(path, o, ctx.schema.categoricalNames, 'list', ctx, refs);
  const table = tableRef(path, o, refs, 'the embedding table the elements are looked up in');
  const lctx = { format: ctx.format, delimiter: ctx.schema.delimiter, categoricalNames: ctx.schema.categoricalNames };
  return named.map(({ name }) => listEntry(path, o, name, table, lctx));
}

/** `table_defaults`: what a table entry inherits for each key it leaves out. */
interface TableDefaults {
  dim?: number;
  optimizer?: OptimizerConfig;
  initializer?: InitializerConfig;
  weightFormat?: WeightFormat;
  admission?: AdmissionConfig;
  eviction?: EvictionConfig;
}

/** The memory options of a table entry (or of table_defaults), each validated where written. */
function memoryOptions(path: string, o: Record<string, unknown>): Pick<TableDefaults, 'weightFormat' | 'admission' | 'eviction'> {
  return {
    weightFormat: o.weight_format === undefined ? undefined : specWeightFormat(at(path, 'weight_format'), o.weight_format),
    admission: o.admission === undefined ? undefined : specAdmission(at(path, 'admission'), o.admission),
    eviction: o.eviction === undefined ? undefined : specEviction(at(path, 'eviction'), o.eviction),
  };
}

function tableDefaults(path: string, v: unknown): TableDefaults {
  if (v === undefined) return {};
  const o = mapping(path, v, TABLE_DEFAULT_KEYS);
  return {
    dim: o.dim === undefined ? undefined : specDim(at(path, 'dim'), o.dim),
    optimizer: o.optimizer === undefined ? undefined : specOptimizer(at(path, 'optimizer'), o.optimizer),
    initializer: o.initializer === undefined ? undefined : specInitializer(at(path, 'initializer'), o.initializer),
    ...memoryOptions(path, o),
  };
}

function tableEntry(path: string, v: unknown, defaults: TableDefaults, seed: number): FeatureTableSpec {
  const o = mapping(path, v, TABLE_KEYS);
  const name = specTableName(at(path, 'name'), o.name);
  const inherit = '(or set it in features.table_defaults)';
  if (o.dim === undefined && defaults.dim === undefined) fail(at(path, 'dim'), `required ${inherit}`);
  if (o.optimizer === undefined && defaults.optimizer === undefined) fail(at(path, 'optimizer'), `required ${inherit}`);
  const mem = memoryOptions(path, o);
  return {
    name,
    dim: o.dim === undefined ? defaults.dim as number : specDim(at(path, 'dim'), o.dim),
    optimizer: o.optimizer === undefined ? { ...defaults.optimizer as OptimizerConfig }
      : specOptimizer(at(path, 'optimizer'), o.optimizer),
    initializer: o.initializer !== undefined ? specInitializer(at(path, 'initializer'), o.initializer)
      : { ...(defaults.initializer ?? DEFAULT_INITIALIZER) },
    seed: specSeed(at(path, 'seed'), o.seed, seed),
    ...((mem.weightFormat ?? defaults.weightFormat ?? 'f32') === 'f32' ? {} : { weightFormat: mem.weightFormat ?? defaults.weightFormat }),
    ...(mem.admission ?? defaults.admission ? { admission: { ...(mem.admission ?? defaults.admission)! } } : {}),
    ...(mem.eviction ?? defaults.eviction ? { eviction: { ...(mem.eviction ?? defaults.eviction)! } } : {}),
  };
}

/** Unique table names; every reference resolves; every table is referenced. */
function checkTableRefs(path: string, tables: FeatureTableSpec[], refs: Named[]): void {
  const index = new Map<string, number>();
  tables.forEach((t, i) => {
    const first = index.get(t.name);
    if (first !== undefined) fail(`${path}[${i}].name`, `table "${t.name}" is defined twice (first at ${path}[${first}])`);
    index.set(t.name, i);
  });
  for (const ref of refs) {
    if (!index.has(ref.name)) {
      const known = tables.length === 0 ? 'no tables are defined' : `defined: ${tables.map((t) => t.name).join(', ')}`;
      fail(ref.path, `unknown table "${ref.name}" (${known} in ${path})`);
    }
  }
  const used = new Set(refs.map((r) => r.name));
  tables.forEach((t, i) => {
    if (!used.has(t.name)) fail(`${path}[${i}].name`, `table "${t.name}" is never used by a feature`);
  });
}
