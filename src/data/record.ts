/**
 * The parsed row shape shared by every click-log reader, and the fixed schemas of the two
 * supported formats (Criteo DAC TSV and Avazu CSV).
 *
 * Rows keep *raw* values: integers as read (no log transform, no clipping) and categorical
 * values as the exact strings from the file. Hashing to feature ids and any numeric transform
 * happen downstream, so the readers stay format-only and cheap to test.
 */

/**
 * One parsed click-log line.
 *
 * `numeric[i]` and `categorical[j]` line up with `RowSchema.numericNames[i]` and
 * `RowSchema.categoricalNames[j]`; `null` marks a missing (empty) field.
 */
export interface RawRow {
  /** Click label: 0 or 1. */
  label: number;
  /** Raw integer features (may be negative); `null` = missing. */
  numeric: (number | null)[];
  /** Raw categorical strings; `null` = missing. */
  categorical: (string | null)[];
}

/** The supported on-disk formats. */
export type RowFormat = 'criteo' | 'avazu';

/** Column layout of a format, after parsing (label excluded). */
export interface RowSchema {
  readonly format: RowFormat;
  readonly numericNames: readonly string[];
  readonly categoricalNames: readonly string[];
  /** The character between fields of a line (a list field's separator must differ from it). */
  readonly delimiter: string;
}

/** Number of integer columns in Criteo DAC (I1..I13). */
export const CRITEO_NUM_INTEGER = 13;
/** Number of categorical columns in Criteo DAC (C1..C26). */
export const CRITEO_NUM_CATEGORICAL = 26;
/** Tab-separated fields per Criteo DAC training line: label + 13 integers + 26 categoricals. */
export const CRITEO_NUM_FIELDS = 1 + CRITEO_NUM_INTEGER + CRITEO_NUM_CATEGORICAL;

function names(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);
}

/**
 * Criteo Display Advertising Challenge (DAC) training TSV: `label \t I1..I13 \t C1..C26`,
 * 40 tab-separated fields, no header. Integers may be empty or negative; categoricals are
 * 8-hex-digit strings or empty.
 */
export const CRITEO_SCHEMA: RowSchema = Object.freeze({
  format: 'criteo',
  numericNames: Object.freeze(names('I', CRITEO_NUM_INTEGER)),
  categoricalNames: Object.freeze(names('C', CRITEO_NUM_CATEGORICAL)),
  delimiter: '\t',
});

/** The exact header line of an Avazu training CSV (24 columns). */
export const AVAZU_HEADER =
  'id,click,hour,C1,banner_pos,site_id,site_domain,site_category,app_id,app_domain,app_category,' +
  'device_id,device_ip,device_model,device_type,device_conn_type,C14,C15,C16,C17,C18,C19,C20,C21';

/** The 24 Avazu CSV column names, in file order. */
export const AVAZU_COLUMNS: readonly string[] = Object.freeze(AVAZU_HEADER.split(','));

/** Name of the categorical derived from Avazu's `hour` column (YYMMDDHH -> HH). */
export const AVAZU_HOUR_OF_DAY = 'hour_of_day';

/**
 * Avazu CTR training CSV. `click` is the label and `id` is dropped; every other column (22 of
 * them, `hour` included) is a categorical string in file order. One derived categorical is
 * appended last: `hour_of_day` = `hour % 100` as a two-digit string ("00".."23"), because the
 * raw `hour` (YYMMDDHH) is unique per hour of the 10-day log and so never recurs at test
 * time, while the hour of day does. There are no numeric columns.
 */
export const AVAZU_SCHEMA: RowSchema = Object.freeze({
  format: 'avazu',
  numericNames: Object.freeze([] as string[]),
  categoricalNames: Object.freeze([...AVAZU_COLUMNS.slice(2), AVAZU_HOUR_OF_DAY]),
  delimiter: ',',
});

/** The schema for a format name. */
export function schemaFor(format: RowFormat): RowSchema {
  return format === 'criteo' ? CRITEO_SCHEMA : AVAZU_SCHEMA;
}

/** A row of the right shape for `schema`, every field missing and label 0; for `out` reuse. */
export function newRawRow(schema: RowSchema): RawRow {
  return {
    label: 0,
    numeric: new Array<number | null>(schema.numericNames.length).fill(null),
    categorical: new Array<string | null>(schema.categoricalNames.length).fill(null),
  };
}
