/**
 * The job-spec error and the small validators the spec is checked with. Every failure is a
 * `JobSpecError` (TESSERA_ERR_CONFIG) whose message starts with the YAML key path of the offending
 * value, e.g. `training.batch_size: must be an integer >= 1 (got 0)`. Paths use YAML key names
 * (snake_case) and `[i]` for list items, so a user can find the line from the message alone.
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import { editDistance } from '../common/edit-distance';

/**
 * A job spec that failed validation. `keyPath` is the dotted YAML path (`''` for the document
 * itself); `parseJobSpec` adds `source` and, when the path exists in the file, `line`/`column`,
 * and prefixes the message with `source:line:column: `.
 *
 * ```ts
 * try { loadJobSpec('job.yaml'); } catch (e) {
 *   if (e instanceof JobSpecError) console.error(e.message); // job.yaml:7:14: model.kind: unknown model "dfm" ...
 * }
 * ```
 */
export class JobSpecError extends TesseraError {
  /** dotted YAML key path, e.g. `features.categorical[3].table` */
  readonly keyPath: string;
  /** what is wrong, without the path */
  readonly detail: string;
  /** file name (or `<inline>`), when known */
  readonly source?: string;
  /** 1-based line of the offending key or value, when known */
  readonly line?: number;
  /** 1-based column, when known */
  readonly column?: number;

  constructor(keyPath: string, detail: string, where?: { source: string; line?: number; column?: number }) {
    const at = where === undefined ? '' : `${where.source}${where.line === undefined ? '' : `:${where.line}:${where.column}`}: `;
    keyPath = clip(keyPath);
    detail = clip(detail);
    super(ERROR_CODES.CONFIG, `${at}${keyPath === '' ? '' : `${keyPath}: `}${detail}`);
    this.name = 'JobSpecError';
    this.keyPath = keyPath;
    this.detail = detail;
    this.source = where?.source;
    this.line = where?.line;
    this.column = where?.column;
  }
}

/** Longest key path or detail a message carries: a 10 MB value in a spec stays one readable line. */
const MAX_MESSAGE_PART_CHARS = 300;

/** Room for clip's suffix: a clipped text (parseJobSpec re-throws with a location) is not clipped twice. */
const CLIP_SUFFIX_CHARS = 32;

/** `text` cut to MAX_MESSAGE_PART_CHARS, saying how long it was (issue #16: fuzzed specs). */
function clip(text: string): string {
  if (text.length <= MAX_MESSAGE_PART_CHARS + CLIP_SUFFIX_CHARS) return text;
  return `${text.slice(0, MAX_MESSAGE_PART_CHARS)}… (${text.length} characters)`;
}

/** Throws a JobSpecError for `path`. */
export function fail(path: string, detail: string): never {
  throw new JobSpecError(path, detail);
}

/** `path.key`, or `key` at the top level. */
export function at(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/** How a bad value is shown in `(got ...)`. */
export function show(v: unknown): string {
  if (typeof v === 'string') return v.length > 80 ? `${JSON.stringify(v.slice(0, 80))}… (${v.length} characters)` : JSON.stringify(v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object' && v !== null) return 'a mapping';
  return String(v);
}

/**
 * Checks that `v` is a mapping whose keys are all in `allowed` and returns it. An unknown key is
 * reported at its own path, with a suggestion when it is a likely typo of an allowed key.
 */
export function mapping(path: string, v: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, `must be a mapping (got ${show(v)})`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (allowed.includes(k)) continue;
    const near = allowed.find((a) => editDistance(a, k) <= 2 || a === snake(k));
    fail(at(path, k), near === undefined ? `unknown key (expected one of ${allowed.join(', ')})`
      : `unknown key (did you mean ${near}?)`);
  }
  return o;
}

/** camelCase → snake_case (`initialAccumulator` → `initial_accumulator`). */
export function snake(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Throws unless `v` is a list; returns it. */
export function list(path: string, v: unknown): unknown[] {
  if (!Array.isArray(v)) fail(path, `must be a list (got ${show(v)})`);
  return v;
}

/** Throws unless `v` is a non-empty string; returns it. */
export function str(path: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0) fail(path, `must be a non-empty string (got ${show(v)})`);
  return v;
}

/** `v` when it is one of `allowed`; `fallback` when `v` is absent; otherwise throws naming `what`. */
export function oneOf<T extends string>(path: string, v: unknown, allowed: readonly T[], what: string, fallback?: T): T {
  if (v === undefined && fallback !== undefined) return fallback;
  if (v === undefined) fail(path, `required (one of ${allowed.join(', ')})`);
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    fail(path, `unknown ${what} ${show(v)} (expected one of ${allowed.join(', ')})`);
  }
  return v as T;
}

/** A YAML boolean at `path`, or `fallback` when absent. */
export function flag(path: string, v: unknown, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') fail(path, `expected true or false, got ${show(v)}`);
  return v;
}

/** Bounds of `num`: `min`/`max` inclusive, `gt` exclusive. */
export interface Bounds {
  min?: number;
  max?: number;
  gt?: number;
  integer?: boolean;
}

/**
 * `v` when it is a finite number within `b` (-0 is returned as 0); `fallback` when `v` is absent
 * and a fallback is given; otherwise throws.
 */
export function num(path: string, v: unknown, b: Bounds, fallback?: number): number {
  if (v === undefined && fallback !== undefined) return fallback;
  if (v === undefined) fail(path, 'required');
  const kind = b.integer ? 'an integer' : 'a finite number';
  const ok = typeof v === 'number' && Number.isFinite(v) && (!b.integer || Number.isInteger(v));
  if (!ok) fail(path, `must be ${kind} (got ${show(v)})`);
  const x = v as number;
  if (b.gt !== undefined && !(x > b.gt)) fail(path, `must be > ${b.gt} (got ${x})`);
  if (b.min !== undefined && x < b.min) fail(path, `must be >= ${b.min} (got ${x})`);
  if (b.max !== undefined && x > b.max) fail(path, `must be <= ${b.max} (got ${x})`);
  return x + 0;
}

/**
 * Runs one of the parameter server's validators (which throw INVALID_ARGUMENT messages of the
 * form `<key> <what>`, given `path` as their key) and re-throws its failure as a JobSpecError at
 * the same path, with camelCase keys spelled the way the YAML spells them.
 */
export function viaPs<T>(path: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (!(e instanceof TesseraError) || e.code !== ERROR_CODES.INVALID_ARGUMENT || !e.message.startsWith(path)) throw e;
    const rest = e.message.slice(path.length).replace(/\b[a-z][a-z0-9]*[A-Z][A-Za-z0-9]*\b/g, snake);
    const m = /^((?:\.[a-z0-9_]+)*) ([^]*)$/.exec(rest);
    if (m === null) throw new JobSpecError(path, rest.trim());
    // Say "unknown key" the way `mapping` does, whichever validator found it.
    const detail = m[2].replace(/^is not a known key; expected one of (.*) \(got [^]*\)$/, 'unknown key (expected one of $1)');
    throw new JobSpecError(path + m[1], detail);
  }
}
