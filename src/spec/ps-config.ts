/**
 * The bridge between the job spec and the parameter server's own config types. Optimizer,
 * initializer, table-name, dim and seed checks are the PS's (src/ps), called with the YAML path as
 * their key so their messages name the spec location; this file only translates key spelling:
 * YAML is snake_case (`initial_accumulator`), the PS configs are camelCase (`initialAccumulator`).
 * Optimizer key names come from the optimizer descriptors (src/ps/optimizers/registry.ts).
 */
import type { OptimizerConfig } from '../ps/optimizers/optimizer';
import { configFromNames, namesFromConfig } from '../ps/optimizers/optimizer-spec';
import { createOptimizer } from '../ps/optimizers/registry';
import type { InitializerConfig } from '../ps/store/initializers';
import { validateInitializer } from '../ps/store/initializers';
import type { EmbeddingTableSpec } from '../ps/store/table-spec';
import { checkDim, checkSeed, checkTableName } from '../ps/store/table-spec';
import { DEFAULT_SLAB_ROWS } from '../ps/store/embedding-table';
import type { WeightFormat } from '../ps/store/row-storage';
import type { AdmissionConfig, EvictionConfig } from '../ps/store/table-options';
import { checkWeightFormat, validateAdmission, validateEviction } from '../ps/store/table-options';
import { at, fail, show, snake, viaPs } from './spec-error';
import type { JobSpec } from './types';

/**
 * Validates a YAML optimizer mapping (`{ kind: adagrad, lr: 0.05, initial_accumulator: 0.1 }`)
 * with the PS's `createOptimizer` and returns the PS config with every default filled in.
 */
export function specOptimizer(path: string, v: unknown): OptimizerConfig {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, `must be a mapping (got ${show(v)})`);
  const { kind, ...params } = v as Record<string, unknown>;
  for (const k of Object.keys(params)) {
    // Say what the camelCase spelling should be, rather than only that it is unknown.
    if (/[A-Z]/.test(k)) fail(at(path, k), `unknown key (did you mean ${snake(k)}?)`);
  }
  return viaPs(path, () => ({ ...createOptimizer(configFromNames(kind, params, path), path).config }) as OptimizerConfig);
}

/** An optimizer config spelled the YAML way (snake_case keys), for `jobSpecToYaml`. */
export function optimizerToYaml(cfg: OptimizerConfig): Record<string, unknown> {
  return { kind: cfg.kind, ...namesFromConfig(cfg) };
}

/** Validates an initializer mapping with the PS's `validateInitializer`; returns a normalised copy. */
export function specInitializer(path: string, v: unknown): InitializerConfig {
  return viaPs(path, () => validateInitializer(v, path));
}

/** The PS table-name rule (`[A-Za-z0-9_.-]{1,128}`). */
export function specTableName(path: string, v: unknown): string {
  return viaPs(path, () => checkTableName(v, path));
}

/** The PS embedding-dim rule (integer in [1, MAX_EMBEDDING_DIM]). */
export function specDim(path: string, v: unknown): number {
  return viaPs(path, () => checkDim(v, path));
}

/** The PS table-seed rule (uint32), with `fallback` when absent. */
export function specSeed(path: string, v: unknown, fallback: number): number {
  return v === undefined ? fallback : viaPs(path, () => checkSeed(v, path));
}

/** A YAML mapping with snake_case keys → the PS's camelCase keys (camelCase in YAML is refused). */
function camelKeys(path: string, v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, `must be a mapping (got ${show(v)})`);
  const out: Record<string, unknown> = {};
  for (const [k, value] of Object.entries(v as Record<string, unknown>)) {
    if (/[A-Z]/.test(k)) fail(at(path, k), `unknown key (did you mean ${snake(k)}?)`);
    out[k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())] = value;
  }
  return out;
}

/** `weight_format`: f32 | f16 (the PS rule), `f32` when absent. */
export function specWeightFormat(path: string, v: unknown): WeightFormat {
  return viaPs(path, () => checkWeightFormat(v, path));
}

/** `admission`: validated by the PS's `validateAdmission`, defaults filled in. */
export function specAdmission(path: string, v: unknown): AdmissionConfig {
  return viaPs(path, () => validateAdmission(camelKeys(path, v), path));
}

/** `eviction`: validated by the PS's `validateEviction`; a row budget must hold one slab. */
export function specEviction(path: string, v: unknown): EvictionConfig {
  const e = viaPs(path, () => validateEviction(camelKeys(path, v), path));
  if (e.maxRows !== undefined && e.maxRows < DEFAULT_SLAB_ROWS) {
    fail(at(path, 'max_rows'), `must be at least one slab (${DEFAULT_SLAB_ROWS} rows) (got ${e.maxRows})`);
  }
  return e;
}

/** The YAML spelling of an admission or eviction config (snake_case keys). */
export function memoryOptionToYaml(cfg: AdmissionConfig | EvictionConfig): Record<string, unknown> {
  return Object.fromEntries(Object.entries(cfg).map(([k, v]) => [snake(k), v]));
}

/**
 * The embedding tables a job needs, as `TableStore.create` / `CreateTable` specs.
 *
 * ```ts
 * for (const t of embeddingTableSpecs(spec)) await admin.createTable(t);
 * ```
 */
export function embeddingTableSpecs(spec: JobSpec): EmbeddingTableSpec[] {
  return spec.features.tables.map((t) => ({
    name: t.name,
    kind: 'embedding',
    dim: t.dim,
    optimizer: { ...t.optimizer },
    initializer: { ...t.initializer },
    seed: t.seed,
    ...(t.weightFormat === undefined ? {} : { weightFormat: t.weightFormat }),
    ...(t.admission ? { admission: { ...t.admission } } : {}),
    ...(t.eviction ? { eviction: { ...t.eviction } } : {}),
  }));
}
