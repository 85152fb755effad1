/**
 * Request inputs → the raw rows the training code's feature transform reads. Inputs are raw
 * feature values keyed by the job spec's field names (`{"I1": 3, "C1": "68fd1e64"}`); a field left
 * out, or null, is a missing value, exactly as an empty cell in training data. Every protocol
 * comes through here, row-wise (TF Serving `instances`) or column-wise (TF Serving `inputs`,
 * KServe v2 `inputs`, the gRPC columns), so every protocol checks values the same way.
 *
 * Bad values are INVALID_ARGUMENT naming the place and the field: a number for a numeric field
 * (finite: NaN and ±Infinity are refused), a string for a categorical one (sent as the training
 * data holds it, so `5` is refused rather than guessed to be `"5"`). A field the spec does not
 * have is refused with the spec's fields, or ignored (`unknown: 'ignore'`). Fields named in
 * `extra` (the split key, feedback slices) are accepted beside the features and returned apart.
 * A list field (`features.lists`, e.g. a click history) takes its cell as the training data holds
 * it (`"a|b|c"`, the spec's separator) or a list of strings (`["a", "b", "c"]`), which is joined
 * with the separator; an element containing the separator is refused, since it would split.
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import { newRawRow, schemaFor } from '../data/record';
import type { RawRow } from '../data/record';
import { specFieldNames, unknownFieldMessage } from '../spec/raw-fields';
import type { RawValue } from '../spec/raw-fields';
import type { JobSpec } from '../spec/types';
import { NON_FINITE_MARK } from './lenient-json';

/** What to do with a field the spec does not have. */
export type UnknownFieldPolicy = 'reject' | 'ignore';

/** Options of a RequestRows. */
export interface RequestRowsOptions {
  unknown: UnknownFieldPolicy;
  /** non-feature fields requests may carry (their values come back in `extra`) */
  extra?: readonly string[];
  /** called for each ignored unknown field (with `unknown: 'ignore'`) */
  onIgnored?: (field: string) => void;
}

/** Rows and the values of the extra fields, row by row. */
export interface DecodedRows {
  rows: RawRow[];
  extra: Map<string, RawValue[]>;
}

/** One column of a columnar request. */
export interface InputColumn {
  name: string;
  values: ArrayLike<unknown>;
  /** where the column came from, for messages (`inputs[2]`) */
  where: string;
}

interface FieldSlot {
  numeric: boolean;
  col: number;
  /** a list field's separator */
  separator?: string;
}

function invalid(where: string, why: string): never {
  throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `${where}: ${why}`);
}

function describe(v: unknown): string {
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return Array.isArray(v) ? 'a list' : v === null ? 'null' : `${typeof v} ${JSON.stringify(v)}`;
}

/** Decodes request inputs for one model's spec; see the file comment. */
export class RequestRows {
  private readonly slots = new Map<string, FieldSlot>();
  private readonly extra: readonly string[];
  private readonly schema;

  constructor(private readonly spec: JobSpec, private readonly opts: RequestRowsOptions) {
    this.schema = schemaFor(spec.data.format);
    const separators = new Map(spec.features.lists.map((l) => [l.name, l.separator]));
    for (const f of specFieldNames(spec)) {
      const numeric = this.schema.numericNames.indexOf(f);
      const separator = separators.get(f);
      this.slots.set(f, numeric >= 0 ? { numeric: true, col: numeric }
        : { numeric: false, col: this.schema.categoricalNames.indexOf(f), ...(separator === undefined ? {} : { separator }) });
    }
    this.extra = (opts.extra ?? []).filter((f) => !this.slots.has(f));
  }

  /** The spec's input fields: name and whether it is numeric. */
  fields(): { name: string; numeric: boolean }[] {
    return [...this.slots].map(([name, s]) => ({ name, numeric: s.numeric }));
  }

  /**
   * Rows from TF Serving's row form: a list of objects, one per example.
   * @param where the list's name in messages (`instances`)
   */
  fromInstances(instances: unknown, where = 'instances'): DecodedRows {
    if (!Array.isArray(instances) || instances.length === 0) invalid(where, 'must be a non-empty list of objects (field → value), one per example');
    const out = this.empty(instances.length);
    instances.forEach((inst, i) => {
      if (typeof inst !== 'object' || inst === null || Array.isArray(inst)) invalid(`${where}[${i}]`, `must be an object of field → value (got ${describe(inst)})`);
      for (const [field, v] of Object.entries(inst as Record<string, unknown>)) this.put(out, i, field, v, `${where}[${i}].${field}`);
    });
    return out;
  }

  /** Rows from columns of equal length. */
  fromColumns(columns: readonly InputColumn[]): DecodedRows {
    if (columns.length === 0) invalid('inputs', 'no input columns');
    const n = columns[0].values.length;
    if (n === 0) invalid(columns[0].where, 'has no values');
    const out = this.empty(n);
    const seen = new Set<string>();
    for (const c of columns) {
      if (seen.has(c.name)) invalid(c.where, `field ${c.name} is given twice`);
      seen.add(c.name);
      if (c.values.length !== n) invalid(c.where, `${c.values.length} values for field ${c.name}, but ${columns[0].where} (${columns[0].name}) has ${n}`);
      for (let i = 0; i < n; i++) this.put(out, i, c.name, c.values[i], `${c.where} (${c.name})[${i}]`);
    }
    return out;
  }

  private empty(n: number): DecodedRows {
    const rows = Array.from({ length: n }, () => newRawRow(this.schema));
    return { rows, extra: new Map(this.extra.map((f) => [f, new Array<RawValue>(n).fill(null)])) };
  }

  private put(out: DecodedRows, i: number, field: string, v: unknown, where: string): void {
    const slot = this.slots.get(field);
    if (!slot) {
      const extra = out.extra.get(field);
      if (extra) extra[i] = this.extraValue(v, where);
      else if (this.opts.unknown === 'ignore') this.opts.onIgnored?.(field);
      else invalid(where, unknownFieldMessage(this.spec, field));
      return;
    }
    if (v === null || v === undefined) return;
    const row = out.rows[i];
    if (slot.numeric) row.numeric[slot.col] = this.number(v, where);
    else if (typeof v === 'string') row.categorical[slot.col] = v;
    else if (slot.separator !== undefined && Array.isArray(v)) row.categorical[slot.col] = this.joined(v, slot.separator, where);
    else if (slot.separator !== undefined) invalid(where, `expected a string, a list of strings or null (got ${describe(v)}) for this list field`);
    else invalid(where, `expected a string or null (got ${describe(v)}); send categorical values as the strings the training data holds`);
  }

  /** A list field's elements as one cell, joined by its separator. */
  private joined(elements: unknown[], separator: string, where: string): string {
    elements.forEach((e, k) => {
      if (typeof e !== 'string') invalid(`${where}[${k}]`, `expected a string (got ${describe(e)}); a list field holds the strings the training data holds`);
      if (e.includes(separator)) invalid(`${where}[${k}]`, `${describe(e)} contains the list separator ${JSON.stringify(separator)}; send one element per entry`);
    });
    return elements.join(separator);
  }

  private number(v: unknown, where: string): number {
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    const nonFinite = typeof v === 'number' ? String(v) : typeof v === 'string' && v.startsWith(NON_FINITE_MARK) ? v.slice(NON_FINITE_MARK.length) : null;
    if (nonFinite !== null) invalid(where, `${nonFinite} is not a value Tessera accepts; numeric values must be finite (send null for a missing value)`);
    return invalid(where, `expected a number or null (got ${describe(v)})`);
  }

  private extraValue(v: unknown, where: string): RawValue {
    if (v === null || v === undefined) return null;
    if (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) return v;
    return invalid(where, `expected a string, a finite number or null (got ${describe(v)})`);
  }
}
