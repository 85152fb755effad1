/**
 * Column names of each input format: the names a spec's features may refer to, in the order the
 * readers in src/data deliver them in `RawRow.numeric` / `RawRow.categorical`. The schemas
 * themselves are defined once, next to the parsers, in src/data/record.ts.
 */
import { AVAZU_SCHEMA, CRITEO_SCHEMA } from '../data/record';
import type { DataFormat } from './types';

/** Names of a format's numeric and categorical columns, in row order. */
export interface FeatureSchema {
  readonly numericNames: readonly string[];
  readonly categoricalNames: readonly string[];
  /** The character between fields of a line. */
  readonly delimiter: string;
}

export { AVAZU_SCHEMA, CRITEO_SCHEMA };

/** The schema of each `data.format`. */
export const FORMAT_SCHEMAS: Readonly<Record<DataFormat, FeatureSchema>> = Object.freeze({
  criteo: CRITEO_SCHEMA,
  avazu: AVAZU_SCHEMA,
});
