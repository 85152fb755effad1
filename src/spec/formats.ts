/**
 * Column names of each input format: the names a spec's features may refer to, in the order a
 * reader delivers them in `RawRow.numeric` / `RawRow.categorical`.
 */
import type { DataFormat } from './types';

/** Names of a format's numeric and categorical columns, in row order. */
export interface FeatureSchema {
  readonly numericNames: readonly string[];
  readonly categoricalNames: readonly string[];
}

const range = (prefix: string, n: number): readonly string[] =>
  Object.freeze(Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`));

/**
 * Criteo Display Advertising Challenge: `label \t I1..I13 \t C1..C26`, integer counts and 8-hex-digit
 * hashed categories (the same layout as Criteo's 1TB click logs).
 */
export const CRITEO_SCHEMA: FeatureSchema = Object.freeze({
  numericNames: range('I', 13),
  categoricalNames: range('C', 26),
});

/**
 * Avazu CTR prediction CSV: `id,click,` then these 22 columns in file order, all categorical
 * (`hour` is the raw YYMMDDHH string).
 */
export const AVAZU_SCHEMA: FeatureSchema = Object.freeze({
  numericNames: Object.freeze([]) as readonly string[],
  categoricalNames: Object.freeze([
    'hour', 'C1', 'banner_pos', 'site_id', 'site_domain', 'site_category', 'app_id', 'app_domain',
    'app_category', 'device_id', 'device_ip', 'device_model', 'device_type', 'device_conn_type',
    'C14', 'C15', 'C16', 'C17', 'C18', 'C19', 'C20', 'C21',
  ]),
});

/** The schema of each `data.format`. */
export const FORMAT_SCHEMAS: Readonly<Record<DataFormat, FeatureSchema>> = Object.freeze({
  criteo: CRITEO_SCHEMA,
  avazu: AVAZU_SCHEMA,
});
