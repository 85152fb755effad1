/**
 * A job's raw fields by name: the values a row holds before the feature transform hashes or
 * scales them (`I1` = 3, `C6` = "7e0ccccf"). Sliced evaluation groups rows by them; serving
 * receives them keyed the same way.
 */
import { editDistance } from '../common/edit-distance';
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { FeatureSchema } from './formats';
import type { RawRow } from './transform';
import type { JobSpec } from './types';

/** A raw value: a number, a string, or null for an empty cell. */
export type RawValue = string | number | null;

/** The spec's field names in spec order: numeric features, then categorical ones, then lists. */
export function specFieldNames(spec: JobSpec): string[] {
  const f = spec.features;
  return [...f.numeric.map((x) => x.name), ...f.categorical.map((x) => x.name), ...f.lists.map((x) => x.name)];
}

/**
 * `"X" is not a field of job J (did you mean Y?); its fields are …`: the one wording of an unknown
 * field name, for flags and for serving requests alike.
 */
export function unknownFieldMessage(spec: JobSpec, unknown: string, known: readonly string[] = specFieldNames(spec)): string {
  const near = known.find((k) => k.toLowerCase() === unknown.toLowerCase())
    ?? known.map((k) => ({ k, d: editDistance(k, unknown) })).filter((c) => c.d <= 2).sort((a, b) => a.d - b.d)[0]?.k;
  return `"${unknown}" is not a field of job ${spec.name}${near ? ` (did you mean ${near}?)` : ''}; its fields are ${known.join(', ')}`;
}

/**
 * Returns a function reading the raw values of `names` from a row of `schema`.
 *
 * ```ts
 * const read = rawFieldReader(spec, FORMAT_SCHEMAS.criteo, ['C6', 'I1'], '--slice-by');
 * read(row); // { C6: '7e0ccccf', I1: 3 }
 * ```
 *
 * @param what where the names came from, to start the error message (e.g. '--slice-by')
 * @throws TesseraError CONFIG on a name that is not one of the spec's fields; the message names
 *   it, the closest field (did you mean) and the spec's fields.
 */
export function rawFieldReader(spec: JobSpec, schema: FeatureSchema, names: readonly string[], what: string): (row: RawRow) => Record<string, RawValue> {
  const known = specFieldNames(spec);
  const unknown = names.find((n) => !known.includes(n));
  if (unknown !== undefined) throw new TesseraError(ERROR_CODES.CONFIG, `${what}: ${unknownFieldMessage(spec, unknown, known)}`);
  const columns = names.map((name) => {
    const numeric = schema.numericNames.indexOf(name);
    return numeric >= 0 ? { name, numeric: true, col: numeric } : { name, numeric: false, col: schema.categoricalNames.indexOf(name) };
  });
  return (row) => {
    const out: Record<string, RawValue> = {};
    for (const c of columns) out[c.name] = (c.numeric ? row.numeric[c.col] : row.categorical[c.col]) ?? null;
    return out;
  };
}
