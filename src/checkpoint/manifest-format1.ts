/**
 * Reads the tables of a format-1 manifest (written before issue 13) as `ManifestTable` records.
 *
 * Format 1 stored each table as the PS's normalised spec in the gRPC TableSpec shape of that
 * time, decoded by proto-loader with defaults: enum names in capitals, every scalar present (0,
 * "" or false when unset), the optimizer as a oneof (`{ kind: 'adam', adam: { lr, beta1, ... } }`
 * with camelCase keys), the initializer with all of `value`, `scale` and `std`.
 *
 * What each value meant then decides how it is read now:
 * - optimizer: the PS reported its config with every default filled in, so every number,
 *   zero included, is what it trained with. Keys become the YAML names (`initial_accumulator`).
 *   FTRL's `initial_accumulator` was not on that wire: it is absent and takes its default (0.1),
 *   which is what a PS given the table over gRPC used.
 * - initializer: only the field its kind uses.
 * - admission and eviction: 0, "" and false meant "not set" (validation refuses them as values).
 * - weight format "" meant f32.
 * This file is frozen with format 1; the format this build writes is `ManifestTable`.
 */
import type { ManifestTable } from './manifest-table';

/** The one field each format-1 initializer kind used. */
const FORMAT1_INITIALIZER_FIELD: Readonly<Record<string, string | null>> = Object.freeze({
  ZEROS: null, CONSTANT: 'value', UNIFORM: 'scale', NORMAL: 'std',
});

function record(v: unknown): Record<string, unknown> | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : null;
}

/** camelCase (proto-loader's spelling of the proto field) → the proto's snake_case name. */
function protoName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** The set values of a format-1 admission or eviction message (zeros, "" and false were "unset"). */
function setValues(v: unknown): Record<string, number | string | boolean> | undefined {
  const o = record(v);
  if (!o) return undefined;
  const out: Record<string, number | string | boolean> = {};
  for (const [k, x] of Object.entries(o)) {
    if ((typeof x === 'number' || typeof x === 'string' || typeof x === 'boolean') && x !== 0 && x !== '' && x !== false) out[k] = x;
  }
  return out;
}

function optimizer(v: unknown, fail: (what: string) => Error): ManifestTable['optimizer'] {
  const o = record(v);
  const kind = o?.kind;
  const body = typeof kind === 'string' ? record(o?.[kind]) : null;
  if (!body) throw fail('optimizer: expected a format-1 oneof ({kind, <kind>: {...}})');
  const params: Record<string, number> = {};
  for (const [k, x] of Object.entries(body)) if (typeof x === 'number') params[protoName(k)] = x;
  return { kind: kind as string, params };
}

function initializer(v: unknown, fail: (what: string) => Error): ManifestTable['initializer'] {
  const o = record(v);
  const field = typeof o?.kind === 'string' ? FORMAT1_INITIALIZER_FIELD[o.kind] : undefined;
  if (!o || field === undefined) throw fail(`initializer: unknown format-1 kind ${JSON.stringify(o?.kind)}`);
  const kind = (o.kind as string).toLowerCase();
  return field === null ? { kind } : { kind, [field]: Number(o[field] ?? 0) };
}

/**
 * A format-1 table as a `ManifestTable`. `fail` builds the error for a table that is not in the
 * format-1 shape.
 */
export function tableFromFormat1(v: unknown, fail: (what: string) => Error): ManifestTable {
  const t = record(v);
  if (!t || typeof t.name !== 'string') throw fail('needs a name');
  const settings = { optimizer: optimizer(t.optimizer, fail), initializer: initializer(t.initializer, fail), seed: Number(t.seed ?? 0) };
  if (t.kind === 'DENSE') return { name: t.name, kind: 'dense', size: Number(t.size), ...settings };
  const admission = setValues(t.admission);
  const eviction = setValues(t.eviction);
  return {
    name: t.name, kind: 'embedding', dim: Number(t.dim), ...settings,
    weightFormat: typeof t.weightFormat === 'string' && t.weightFormat !== '' ? t.weightFormat : 'f32',
    ...(admission ? { admission: admission as ManifestTable['admission'] } : {}), ...(eviction ? { eviction } : {}),
  };
}
