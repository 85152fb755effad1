/**
 * Table specs: what `TableStore.create` accepts, and the checks shared by the table classes.
 * Every failure is TESSERA_ERR_INVALID_ARGUMENT and names the key, e.g. `dim must be <= 4096`.
 */
import type { OptimizerConfig, OptimizerKind } from '../optimizers/optimizer';
import { createOptimizer } from '../optimizers/registry';
import { badConfig, checkKeys, checkNumber, checkObject } from '../optimizers/config-check';
import { DEFAULT_INITIALIZER, InitializerConfig, validateInitializer } from './initializers';
import type { WeightFormat } from './row-storage';
import type { TierCounters } from './tier-rows';
import {
  AdmissionConfig, checkWeightFormat, EvictionConfig, validateAdmission, validateEviction,
} from './table-options';

/** Largest embedding row width. */
export const MAX_EMBEDDING_DIM = 4096;
/** Largest dense table: 2^28 floats (1 GiB of weights). */
export const MAX_DENSE_SIZE = 1 << 28;
/** Table names: what may appear in metric labels, file names and etcd keys unescaped. */
export const TABLE_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/;

/** A sparse table of `dim`-wide rows keyed by u64 ids. */
export interface EmbeddingTableSpec {
  name: string;
  kind: 'embedding';
  dim: number;
  optimizer: OptimizerConfig;
  /** default `DEFAULT_INITIALIZER` (uniform ±0.01) */
  initializer?: InitializerConfig;
  /** uint32 salt of the row initialiser; default 0. Tables sharing seed and id start equal. */
  seed?: number;
  /** weight storage: `f32` (default) or `f16`; optimizer state is float32 either way */
  weightFormat?: WeightFormat;
  /** feature admission (table-options.ts); absent: every id gets a row on first pull */
  admission?: AdmissionConfig;
  /** eviction (table-options.ts); absent: rows are never evicted */
  eviction?: EvictionConfig;
}

/** An embedding spec as `normalizeTableSpec` returns it: defaults filled; memory options only when set. */
export type NormalizedEmbeddingTableSpec = Required<Omit<EmbeddingTableSpec, 'weightFormat' | 'admission' | 'eviction'>>
  & Pick<EmbeddingTableSpec, 'weightFormat' | 'admission' | 'eviction'>;

/** One dense vector of `size` floats (an MLP's weights, flattened). */
export interface DenseTableSpec {
  name: string;
  kind: 'dense';
  size: number;
  optimizer: OptimizerConfig;
  /** default `DEFAULT_INITIALIZER` (uniform ±0.01) */
  initializer?: InitializerConfig;
  /** uint32 seed; default 0 */
  seed?: number;
}

/** What `TableStore.create` accepts. */
export type TableSpec = EmbeddingTableSpec | DenseTableSpec;

/**
 * One line of `TableStore.list()`. A dense table is one row of width `size`, so it reports
 * `rows: 1` and `dim` equal to its `size` (and carries `size` too).
 */
export interface TableInfo {
  name: string;
  kind: 'embedding' | 'dense';
  /** row width: the embedding dim, or a dense table's size */
  dim: number;
  /** dense tables only: number of floats */
  size?: number;
  /** rows resident (1 for a dense table) */
  rows: number;
  /** bytes of index, weights and optimizer state */
  bytes: number;
  optimizer: OptimizerKind;
  /** set when the table was created; a table dropped and created again gets a new one */
  incarnation: number;
  /** embedding tables only: admission and eviction counters */
  memory?: {
    admitted: number;
    rejected: number;
    droppedGradients: number;
    evictedTtl: number;
    evictedBudget: number;
    /** tables with `eviction.spill`: disk-tier counters (tier-rows.ts) */
    tier?: TierCounters;
  };
}

/** Throws unless `name` matches TABLE_NAME_PATTERN; returns it. */
export function checkTableName(name: unknown, key = 'name'): string {
  if (typeof name !== 'string' || !TABLE_NAME_PATTERN.test(name)) {
    badConfig(key, 'must be 1-128 characters of [A-Za-z0-9_.-]', name);
  }
  return name;
}

/** Throws unless `dim` is an integer in [1, MAX_EMBEDDING_DIM]; returns it. */
export function checkDim(dim: unknown, key = 'dim'): number {
  return checkNumber(key, dim, { integer: true, min: 1, max: MAX_EMBEDDING_DIM });
}

/** Throws unless `seed` is undefined or an integer in [0, 2^32); returns it or 0. */
export function checkSeed(seed: unknown, key = 'seed'): number {
  return checkNumber(key, seed, { integer: true, min: 0, max: 0xffffffff }, 0);
}

/**
 * Validates a spec and returns its normalised form: optimizer and initializer with every default
 * filled in, `seed` set. Two specs describe the same table exactly when their normalised forms
 * are deep-equal (see `sameSpec`).
 */
export function normalizeTableSpec(spec: TableSpec): NormalizedEmbeddingTableSpec | Required<DenseTableSpec> {
  const o = checkObject('spec', spec);
  const name = checkTableName(o.name);
  const optimizer = { ...createOptimizer(o.optimizer as OptimizerConfig).config } as OptimizerConfig;
  const initializer = o.initializer === undefined ? { ...DEFAULT_INITIALIZER } : validateInitializer(o.initializer);
  const seed = checkSeed(o.seed);
  if (o.kind === 'embedding') {
    checkKeys('spec', o, ['name', 'kind', 'dim', 'optimizer', 'initializer', 'seed', 'weightFormat', 'admission', 'eviction']);
    // Memory options appear only when they differ from the defaults, so specs that do not use
    // them keep their normalised shape (and sameSpec with older clients' specs).
    const weightFormat = checkWeightFormat(o.weightFormat);
    return {
      name, kind: 'embedding', dim: checkDim(o.dim), optimizer, initializer, seed,
      ...(weightFormat === 'f32' ? {} : { weightFormat }),
      ...(o.admission === undefined ? {} : { admission: validateAdmission(o.admission) }),
      ...(o.eviction === undefined ? {} : { eviction: validateEviction(o.eviction) }),
    };
  }
  if (o.kind === 'dense') {
    checkKeys('spec', o, ['name', 'kind', 'size', 'optimizer', 'initializer', 'seed']);
    const size = checkNumber('size', o.size, { integer: true, min: 1, max: MAX_DENSE_SIZE });
    return { name, kind: 'dense', size, optimizer, initializer, seed };
  }
  return badConfig('kind', 'must be "embedding" or "dense"', o.kind);
}

/** True when two normalised specs describe the same table (key order does not matter). */
export function sameSpec(a: TableSpec, b: TableSpec): boolean {
  return canonical(a) === canonical(b);
}

function canonical(v: unknown): string {
  if (typeof v !== 'object' || v === null) return JSON.stringify(v);
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
}
