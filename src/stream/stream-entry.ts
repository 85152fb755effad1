/**
 * One stream entry → one RawRow. An entry carries its row in one field:
 * - `line`: a Criteo (TSV) or Avazu (CSV) line, exactly as in a data file;
 * - `json`: a JSON object keyed by the format's field names (Criteo `label`, `I1`..`I13`,
 *   `C1`..`C26`; Avazu its CSV column names, `click` or `label` for the label). A missing field
 *   is a missing value.
 * A JSON entry is written out as the format's line and parsed by the same line parser, so the
 * two encodings cannot disagree on what a value means.
 *
 * Anything else (no such field, bad JSON, a value the parser refuses) throws a LineError whose
 * reason names what was wrong: the reader counts the entry as bad and skips it.
 */
import { LineError, parserFor } from '../data/parsers';
import { AVAZU_COLUMNS, CRITEO_SCHEMA, RawRow, RowSchema } from '../data/record';
import type { StreamEntry } from './stream-log';

/** The entry field holding a data line. */
export const LINE_FIELD = 'line';
/** The entry field holding a JSON object of named fields. */
export const JSON_FIELD = 'json';

/** Longest JSON entry accepted, in characters: a row is a few hundred; more is not a row. */
export const MAX_JSON_CHARS = 64 * 1024;

function value(o: Record<string, unknown>, name: string, sep: string): string {
  const v = o[name];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string' && typeof v !== 'number') throw new LineError(`json field ${name} must be a string or a number, got ${typeof v}`);
  const text = String(v);
  if (text.includes(sep) || text.includes('\n')) throw new LineError(`json field ${name} contains a separator`);
  return text;
}

/** The data line a JSON object of named fields stands for, in `schema`'s format. */
export function jsonToLine(text: string, schema: RowSchema): string {
  if (text.length > MAX_JSON_CHARS) throw new LineError(`json entry is ${text.length} characters, over ${MAX_JSON_CHARS}`);
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (err) {
    throw new LineError(`json entry is not JSON (${(err as Error).message})`);
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new LineError('json entry is not a JSON object');
  const obj = o as Record<string, unknown>;
  if (schema.format === 'criteo') {
    const names = ['label', ...CRITEO_SCHEMA.numericNames, ...CRITEO_SCHEMA.categoricalNames];
    return names.map((n) => value(obj, n, '\t')).join('\t');
  }
  const withLabel = obj.click === undefined && obj.label !== undefined ? { ...obj, click: obj.label } : obj;
  return AVAZU_COLUMNS.map((n) => value(withLabel, n, ',')).join(',');
}

/**
 * Parses `entry` into `out` (or a fresh row) for `schema`.
 *
 * @throws LineError naming what was wrong with the entry.
 */
export function parseStreamEntry(entry: StreamEntry, schema: RowSchema, out?: RawRow): RawRow {
  const parse = parserFor(schema.format);
  const line = entry.fields[LINE_FIELD];
  if (line !== undefined) return parse(line, out);
  const json = entry.fields[JSON_FIELD];
  if (json !== undefined) return parse(jsonToLine(json, schema), out);
  const names = Object.keys(entry.fields).slice(0, 5).join(', ');
  throw new LineError(`entry has no '${LINE_FIELD}' or '${JSON_FIELD}' field (fields: ${names || 'none'})`);
}
