/**
 * Line parsers for Criteo DAC (TSV) and Avazu (CSV) click logs.
 *
 * Hot path: one `indexOf` per field and a char-code loop per integer; no regex, no
 * `split()`, no per-field allocation beyond the categorical substrings themselves.
 * A malformed line throws `LineError`, which the caller (RowReader) counts and samples.
 */
import {
  AVAZU_COLUMNS,
  AVAZU_SCHEMA,
  CRITEO_NUM_FIELDS,
  CRITEO_NUM_INTEGER,
  CRITEO_SCHEMA,
  RawRow,
  RowFormat,
  RowSchema,
  newRawRow,
} from './record';

const TAB = 0x09;
const CR = 0x0d;
const COMMA = 0x2c;
const MINUS = 0x2d;
const ZERO = 0x30;
const ONE = 0x31;
/** Longest field excerpt quoted in a LineError reason, so one bad line can't bloat a report. */
const MAX_QUOTED_CHARS = 40;

/**
 * A malformed input line. `reason` is a short, human-readable explanation naming the field,
 * e.g. `I5: 'abc' is not an integer` or `expected 40 fields, got 39`.
 * Not a TesseraError: it never leaves the data readers, which turn it into bad-line accounting.
 */
export class LineError extends Error {
  readonly reason: string;

  constructor(reason: string) {
    super(reason);
    this.name = 'LineError';
    this.reason = reason;
  }
}

/** A line parser: fills `out` when given (see parseCriteoLine for the reuse contract). */
export type LineParser = (line: string, out?: RawRow) => RawRow;

function quote(line: string, start: number, end: number): string {
  const text = end - start > MAX_QUOTED_CHARS ? `${line.slice(start, start + MAX_QUOTED_CHARS)}...` : line.slice(start, end);
  return `'${text}'`;
}

function fieldCountError(line: string, end: number, sep: number, expected: number): LineError | null {
  let got = 1;
  for (let i = 0; i < end; i++) if (line.charCodeAt(i) === sep) got++;
  return got === expected ? null : new LineError(`expected ${expected} fields, got ${got}`);
}

/**
 * A field error found before the end of the line is reported as a field-count error when the
 * count is also wrong: "expected 40 fields, got 1" says "wrong format" better than a bad label.
 */
function preferCountError(err: unknown, line: string, end: number, sep: number, expected: number): unknown {
  return err instanceof LineError ? fieldCountError(line, end, sep, expected) ?? err : err;
}

function parseLabel(line: string, start: number, end: number, name: string): number {
  if (end - start === 1) {
    const c = line.charCodeAt(start);
    if (c === ZERO) return 0;
    if (c === ONE) return 1;
  }
  throw new LineError(`${name}: ${quote(line, start, end)} is not 0 or 1`);
}

/** Parses the non-empty decimal integer line[start, end) (optional leading '-'). */
function parseInteger(line: string, start: number, end: number, name: string): number {
  let i = start;
  const negative = line.charCodeAt(i) === MINUS;
  if (negative) i++;
  if (i === end) throw new LineError(`${name}: ${quote(line, start, end)} is not an integer`);
  let v = 0;
  for (; i < end; i++) {
    const d = line.charCodeAt(i) - ZERO;
    if (d < 0 || d > 9) throw new LineError(`${name}: ${quote(line, start, end)} is not an integer`);
    v = v * 10 + d;
  }
  if (v > Number.MAX_SAFE_INTEGER) {
    throw new LineError(`${name}: ${quote(line, start, end)} is outside the safe integer range`);
  }
  return negative ? 0 - v : v; // 0 - v, not -v: "-0" parses to 0, not -0
}

/** Content end of `line`: its length, less one for a trailing '\r' (CRLF files). */
function contentEnd(line: string): number {
  const n = line.length;
  return n > 0 && line.charCodeAt(n - 1) === CR ? n - 1 : n;
}

function shapedRow(out: RawRow | undefined, schema: RowSchema): RawRow {
  if (out === undefined) return newRawRow(schema);
  out.numeric.length = schema.numericNames.length;
  out.categorical.length = schema.categoricalNames.length;
  return out;
}

/**
 * Parses one Criteo DAC training line (`label \t I1..I13 \t C1..C26`, a trailing '\r' is
 * ignored). Empty fields become `null`.
 *
 * When `out` is given it is filled in place and returned (no allocation besides the
 * categorical strings); if the line is malformed `out` may be partly overwritten.
 *
 * ```ts
 * const row = parseCriteoLine('1\t5\t\t-1\t...'); // row.numeric[1] === null, row.numeric[2] === -1
 * ```
 * @throws LineError on a wrong field count, a non-integer I-field, or a label other than 0/1.
 */
export function parseCriteoLine(line: string, out?: RawRow): RawRow {
  const end = contentEnd(line);
  const row = shapedRow(out, CRITEO_SCHEMA);
  const last = CRITEO_NUM_FIELDS - 1;
  let pos = 0;
  try {
    for (let f = 0; f <= last; f++) {
      let stop = line.indexOf('\t', pos);
      if (f < last ? stop < 0 : stop >= 0) throw new LineError('wrong field count'); // catch adds the counts
      if (f === last) stop = end;
      if (f === 0) {
        row.label = parseLabel(line, pos, stop, 'label');
      } else if (f <= CRITEO_NUM_INTEGER) {
        row.numeric[f - 1] = pos === stop ? null : parseInteger(line, pos, stop, CRITEO_SCHEMA.numericNames[f - 1]);
      } else {
        row.categorical[f - 1 - CRITEO_NUM_INTEGER] = pos === stop ? null : line.substring(pos, stop);
      }
      pos = stop + 1;
    }
  } catch (err) {
    throw preferCountError(err, line, end, TAB, CRITEO_NUM_FIELDS);
  }
  return row;
}

/** Two-digit hour of day from an Avazu `hour` field (YYMMDDHH), or null if it doesn't end in digits. */
function hourOfDay(line: string, start: number, end: number): string | null {
  if (end - start < 2) return null;
  const a = line.charCodeAt(end - 2) - ZERO;
  const b = line.charCodeAt(end - 1) - ZERO;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? line.substring(end - 2, end) : null;
}

/**
 * Parses one Avazu training CSV data line (24 columns, see AVAZU_SCHEMA; a trailing '\r' is
 * ignored). `id` is dropped, `click` is the label, the other 22 columns are categorical
 * strings (empty = `null`), and `hour_of_day` is derived from `hour`. Same `out` contract as
 * parseCriteoLine. The header line is not a data line: it fails with `click: 'click' is not 0 or 1`.
 *
 * @throws LineError on a wrong field count or a click other than 0/1.
 */
export function parseAvazuLine(line: string, out?: RawRow): RawRow {
  const end = contentEnd(line);
  const row = shapedRow(out, AVAZU_SCHEMA);
  const last = AVAZU_COLUMNS.length - 1;
  let pos = 0;
  try {
    for (let f = 0; f <= last; f++) {
      let stop = line.indexOf(',', pos);
      if (f < last ? stop < 0 : stop >= 0) throw new LineError('wrong field count'); // catch adds the counts
      if (f === last) stop = end;
      if (f === 1) {
        row.label = parseLabel(line, pos, stop, 'click');
      } else if (f >= 2) {
        row.categorical[f - 2] = pos === stop ? null : line.substring(pos, stop);
        if (f === 2) row.categorical[last - 1] = hourOfDay(line, pos, stop);
      }
      pos = stop + 1;
    }
  } catch (err) {
    throw preferCountError(err, line, end, COMMA, AVAZU_COLUMNS.length);
  }
  return row;
}

/** The line parser for a format. */
export function parserFor(format: RowFormat): LineParser {
  return format === 'criteo' ? parseCriteoLine : parseAvazuLine;
}
