/**
 * Table specs: what `TableStore.create` accepts, and the checks shared by the table classes.
 * Every failure is TESSERA_ERR_INVALID_ARGUMENT and names the key, e.g. `dim must be <= 4096`.
 */
import type { OptimizerConfig, OptimizerKind } from '../optimizers/optimizer';
import { createOptimizer } from '../optimizers/registry';
import { badConfig, checkKeys, checkNumber, checkObject } from '../optimizers/config-check';
import { DEFAULT_INITIALIZER, InitializerConfig, validateInitializer } from './initializers';

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
}

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
export function normalizeTableSpec(spec: TableSpec): Required<EmbeddingTableSpec> | Required<DenseTableSpec> {
  const o = checkObject('spec', spec);
  const name = checkTableName(o.name);
  const optimizer = { ...createOptimizer(o.optimizer as OptimizerConfig).config } as OptimizerConfig;
  const initializer = o.initializer === undefined ? { ...DEFAULT_INITIALIZER } : validateInitializer(o.initializer);
  const seed = checkSeed(o.seed);
  if (o.kind === 'embedding') {
    checkKeys('spec', o, ['name', 'kind', 'dim', 'optimizer', 'initializer', 'seed']);
    return { name, kind: 'embedding', dim: checkDim(o.dim), optimizer, initializer, seed };
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
