/**
 * Small validators for plain-object configs (optimizer configs, table specs). Every failure is a
 * TesseraError whose message starts with the dotted key, e.g. `optimizer.lr must be > 0 (got 0)`.
 */
import { ERROR_CODES, TesseraError } from '../../common/errors';

/** Bounds for `checkNumber`. `gt`/`lt` are exclusive, `min`/`max` inclusive. */
export interface NumberBounds {
  gt?: number;
  min?: number;
  lt?: number;
  max?: number;
  integer?: boolean;
}

/** Throws INVALID_ARGUMENT naming `key`. */
export function badConfig(key: string, what: string, got: unknown): never {
  throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `${key} ${what} (got ${describe(got)})`);
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'object' && v !== null) return Array.isArray(v) ? 'an array' : 'an object';
  return String(v);
}

/**
 * Returns `value` when it is a finite number within `b`; `fallback` when `value` is undefined and a
 * fallback is given; otherwise throws naming `key`.
 */
export function checkNumber(key: string, value: unknown, b: NumberBounds, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) badConfig(key, 'must be a finite number', value);
  if (b.integer && !Number.isInteger(value)) badConfig(key, 'must be an integer', value);
  if (b.gt !== undefined && !(value > b.gt)) badConfig(key, `must be > ${b.gt}`, value);
  if (b.min !== undefined && !(value >= b.min)) badConfig(key, `must be >= ${b.min}`, value);
  if (b.lt !== undefined && !(value < b.lt)) badConfig(key, `must be < ${b.lt}`, value);
  if (b.max !== undefined && !(value <= b.max)) badConfig(key, `must be <= ${b.max}`, value);
  return value;
}

/** Throws unless `value` is a plain object; returns it typed as a record. */
export function checkObject(key: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) badConfig(key, 'must be an object', value);
  return value as Record<string, unknown>;
}

/** Throws naming the first key of `obj` (with a value other than undefined) not in `allowed`. */
export function checkKeys(prefix: string, obj: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(obj)) {
    if (obj[k] !== undefined && !allowed.includes(k)) {
      badConfig(`${prefix}.${k}`, `is not a known key; expected one of ${allowed.join(', ')}`, obj[k]);
    }
  }
}
