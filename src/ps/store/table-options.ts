/**
 * The memory options of an embedding table: weight format, feature admission and eviction.
 * Validated here, with errors naming the key (`eviction.maxRows must be >= 1 (got -5)`); the job
 * spec calls the same checks with its YAML path, so its messages name the YAML key instead.
 *
 * ```ts
 * validateAdmission({ minCount: 3 });                 // { minCount: 3, sketchWidth: 2^20, sketchDepth: 4, unadmitted: 'zeros' }
 * validateEviction({ ttlSteps: 10000, maxRows: 1e6 }); // { policy: 'lfu', ttlSteps: 10000, maxRows: 1000000 }
 * ```
 */
import { badConfig, checkKeys, checkNumber, checkObject } from '../optimizers/config-check';
import { SKETCH_MAX_COUNT, SKETCH_MAX_DEPTH } from './count-min-sketch';
import { WEIGHT_FORMATS, WeightFormat } from './row-storage';

/** What an id that has not been admitted reads: zeros, or one shared trainable "unknown" row. */
export type UnadmittedRead = 'zeros' | 'unknown';
/** The budget eviction policies this build knows. */
export const EVICTION_POLICIES = Object.freeze(['lfu'] as const);
/** `eviction.policy` */
export type EvictionPolicy = (typeof EVICTION_POLICIES)[number];

/**
 * Feature admission: an id gets a row only once a count-min sketch has seen it in `minCount`
 * pulls. Until then it reads the `unadmitted` vector, and its gradients are dropped (`zeros`) or
 * train the shared unknown row (`unknown`).
 */
export interface AdmissionConfig {
  /** sightings needed to admit an id, 1..255 (1 admits on first sight) */
  minCount: number;
  /** counters per sketch row, a power of two in [2^10, 2^28]; default 2^20 (4 MiB at depth 4) */
  sketchWidth?: number;
  /** sketch rows, 1..8; default 4 */
  sketchDepth?: number;
  /** default `zeros` */
  unadmitted?: UnadmittedRead;
}

/**
 * Eviction: rows untouched for `ttlSteps` pushes to the table (or `ttlSeconds`) are removed, and
 * the table never holds more than `maxRows` rows (or `maxBytes` of index, rows and metadata) on a
 * PS; when full, `policy` chooses the victims. At least one of the four limits is required.
 */
export interface EvictionConfig {
  /** default `lfu` (approximate: a clock sweep over halving per-row counters) */
  policy?: EvictionPolicy;
  ttlSteps?: number;
  ttlSeconds?: number;
  /** per-PS row budget; at least one slab */
  maxRows?: number;
  /** per-PS byte budget; must hold at least one slab */
  maxBytes?: number;
  /**
   * Budget victims go to the PS's disk tier instead of being dropped, and come back on access
   * (ADR 0012). Needs `maxRows` or `maxBytes`, and a PS started with a tier directory. TTL
   * expiry still drops rows. Default false.
   */
  spill?: boolean;
}

export const DEFAULT_SKETCH_WIDTH = 1 << 20;
export const DEFAULT_SKETCH_DEPTH = 4;
const MAX_TTL = 0xffffffff;

/** Throws unless `v` is a known weight format; returns it, or `f32` when absent. */
export function checkWeightFormat(v: unknown, key = 'weightFormat'): WeightFormat {
  if (v === undefined) return 'f32';
  if (typeof v !== 'string' || !(WEIGHT_FORMATS as readonly string[]).includes(v)) {
    badConfig(key, `must be one of ${WEIGHT_FORMATS.join(', ')}`, v);
  }
  return v as WeightFormat;
}

/** Validates an admission config; returns it with defaults filled in. */
export function validateAdmission(v: unknown, key = 'admission'): Required<AdmissionConfig> {
  const o = checkObject(key, v);
  checkKeys(key, o, ['minCount', 'sketchWidth', 'sketchDepth', 'unadmitted']);
  const minCount = checkNumber(`${key}.minCount`, o.minCount, { integer: true, min: 1, max: SKETCH_MAX_COUNT });
  const sketchWidth = checkNumber(`${key}.sketchWidth`, o.sketchWidth, { integer: true, min: 1 << 10, max: 1 << 28 }, DEFAULT_SKETCH_WIDTH);
  if ((sketchWidth & (sketchWidth - 1)) !== 0) badConfig(`${key}.sketchWidth`, 'must be a power of two', sketchWidth);
  const sketchDepth = checkNumber(`${key}.sketchDepth`, o.sketchDepth, { integer: true, min: 1, max: SKETCH_MAX_DEPTH }, DEFAULT_SKETCH_DEPTH);
  const unadmitted = o.unadmitted ?? 'zeros';
  if (unadmitted !== 'zeros' && unadmitted !== 'unknown') badConfig(`${key}.unadmitted`, 'must be one of zeros, unknown', unadmitted);
  return { minCount, sketchWidth, sketchDepth, unadmitted };
}

/** Validates an eviction config; returns it with `policy` filled in and absent limits omitted. */
export function validateEviction(v: unknown, key = 'eviction'): EvictionConfig & { policy: EvictionPolicy } {
  const o = checkObject(key, v);
  checkKeys(key, o, ['policy', 'ttlSteps', 'ttlSeconds', 'maxRows', 'maxBytes', 'spill']);
  const policy = o.policy ?? 'lfu';
  if (typeof policy !== 'string' || !(EVICTION_POLICIES as readonly string[]).includes(policy)) {
    badConfig(`${key}.policy`, `must be one of ${EVICTION_POLICIES.join(', ')}`, policy);
  }
  const out: EvictionConfig & { policy: EvictionPolicy } = { policy: policy as EvictionPolicy };
  const limit = (k: 'ttlSteps' | 'ttlSeconds' | 'maxRows' | 'maxBytes', max: number): void => {
    if (o[k] !== undefined) out[k] = checkNumber(`${key}.${k}`, o[k], { integer: true, min: 1, max });
  };
  limit('ttlSteps', MAX_TTL);
  limit('ttlSeconds', MAX_TTL);
  limit('maxRows', 2 ** 31 - 1);
  limit('maxBytes', Number.MAX_SAFE_INTEGER);
  if (out.ttlSteps !== undefined && out.ttlSeconds !== undefined) {
    badConfig(`${key}.ttlSeconds`, 'cannot be combined with ttlSteps; choose one TTL', out.ttlSeconds);
  }
  if (out.maxRows !== undefined && out.maxBytes !== undefined) {
    badConfig(`${key}.maxBytes`, 'cannot be combined with maxRows; choose one budget', out.maxBytes);
  }
  if (Object.keys(out).length === 1) {
    badConfig(key, 'needs at least one of ttlSteps, ttlSeconds, maxRows, maxBytes', v);
  }
  if (o.spill !== undefined && typeof o.spill !== 'boolean') badConfig(`${key}.spill`, 'must be true or false', o.spill);
  if (o.spill === true) {
    if (out.maxRows === undefined && out.maxBytes === undefined) {
      badConfig(`${key}.spill`, 'needs a budget (maxRows or maxBytes): rows spill only when the budget is full', o.spill);
    }
    out.spill = true;
  }
  return out;
}
