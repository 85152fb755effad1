/**
 * The ONE code path from raw rows to model inputs, shared by training, evaluation and serving:
 * anything that computes features differently would silently skew a served model.
 *
 * Exact definitions (all arithmetic in float64, stored once as float32):
 * - empty numeric cell (null/undefined) → the field's `missing` value, then the transform;
 * - `none`: x;  `log`: `Math.log1p(Math.max(x, 0))`;
 * - `bucketize`: k = number of boundaries <= x (a value equal to a boundary goes to the upper
 *   bucket; k ∈ [0, boundaries.length]); the id is `FeatureHasher(field).hash("b" + k)`, in the
 *   field's table. Bucketized fields produce ids, not dense values;
 * - categorical: id = `FeatureHasher(field).hash(raw)`; an empty cell (null, undefined or "") is
 *   hashed as "" under `missing_categorical: hash`, or leaves id 0 with mask 0 under `drop`;
 * - list (`features.lists`): the cell is split by `splitListCell` (src/data/list-cell.ts: empty
 *   elements skipped, the last `max_len` kept) and element k's id is
 *   `FeatureHasher(hash_as).hash(element)` in list slot k; slots past the row's length keep id 0
 *   with mask 0 (never pulled into the model, never pushed). An empty cell is an empty list.
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import { splitListCell } from '../data/list-cell';
import { FeatureHasher } from '../sharding/feature-hash';
import type { IdArray } from '../wire/key-block';
import type { FeatureSchema } from './formats';
import type { JobSpec, ListPooling } from './types';

/**
 * One input row, columns in the format's schema order (the same shape as `RawRow` in
 * src/data/record.ts). `null` marks an empty cell.
 */
export interface RawRow {
  label: number;
  numeric: ReadonlyArray<number | null>;
  categorical: ReadonlyArray<string | null>;
}

/** Model inputs for `size` rows. */
export interface TransformedBatch {
  size: number;
  /** [size] click labels */
  labels: Float32Array;
  /** [size × denseNames.length] row-major dense inputs, after `none`/`log` transforms */
  dense: Float32Array;
  /** names of the dense columns, in spec order (bucketized fields are not dense) */
  denseNames: string[];
  /**
   * Per table, an IdArray of size × fieldsPerTable[table].length ids: row-major, the fields of
   * one row adjacent (id of row r, field j at pairs index r·F + j).
   */
  ids: Record<string, IdArray>;
  /**
   * Per table, its fields in slot order: bucketized numeric fields, then categorical, then each
   * list's `max_len` slots (`name[0]` .. `name[max_len-1]`), spec order.
   */
  fieldsPerTable: Record<string, string[]>;
  /**
   * With `missing_categorical: drop` or list fields: per table, [size × fields] 1 = id present,
   * 0 = the value was missing (or a list slot past the row's length); the slot's id is 0 and must
   * be neither pulled into the model nor pushed (zero vector).
   */
  mask?: Record<string, Uint8Array>;
  /** With list fields: [size × lists] the number of elements of each row's lists, spec order. */
  listLengths?: Float32Array;
}

/** Where one list field's slots sit in its table; see `FeatureTransformer.lists`. */
export interface ListSlots {
  field: string;
  table: string;
  /** the slot of element 0 among the table's fields; elements take `maxLen` adjacent slots */
  slot: number;
  maxLen: number;
  pooling: ListPooling;
  /** with attention: the slot of the target field in the same table */
  targetSlot?: number;
}

/** Where one id-producing field reads its column and writes its id. */
interface IdSlot {
  field: string;
  /** index in the row's numeric or categorical array */
  col: number;
  table: string;
  /** position among the table's fields */
  slot: number;
  /** number of fields in the table (ids per row) */
  stride: number;
}

interface BucketSlot extends IdSlot {
  missing: number;
  boundaries: Float64Array;
  /** precomputed id of bucket k at pairs index k */
  bucketIds: Uint32Array;
}

interface CategoricalSlot extends IdSlot {
  hasher: FeatureHasher;
}

interface ListSlot extends CategoricalSlot {
  separator: string;
  maxLen: number;
}

interface DenseColumn {
  col: number;
  log: boolean;
  missing: number;
}

function invalid(message: string): never {
  throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, message);
}

/** Number of boundaries <= x (binary search: first index whose boundary is > x). */
export function bucketIndex(boundaries: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = boundaries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (boundaries[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Turns raw rows into `TransformedBatch`es as the spec says. Build one per job (hashers and
 * bucket ids are precomputed) and reuse it.
 *
 * ```ts
 * const tf = new FeatureTransformer(spec, FORMAT_SCHEMAS[spec.data.format]);
 * const batch = tf.transformBatch(rows);
 * batch.ids.c1; // IdArray of rows.length × 1 ids
 * ```
 */
export class FeatureTransformer {
  /** Dense column names, in spec order. */
  readonly denseNames: readonly string[];
  /** Table names in spec order; each is a key of `ids` and `fieldsPerTable`. */
  readonly tables: readonly string[];
  /** Per table, its fields in slot order. */
  readonly fieldsPerTable: Readonly<Record<string, readonly string[]>>;
  /** The list fields, spec order, with their slots. */
  readonly lists: readonly ListSlots[];
  private readonly dense: DenseColumn[] = [];
  private readonly buckets: BucketSlot[] = [];
  private readonly categorical: CategoricalSlot[] = [];
  private readonly listSlots: ListSlot[] = [];
  private readonly dropMissing: boolean;
  /** Tables that get a mask: every table with `drop`, else those holding a list. */
  private readonly masked: ReadonlySet<string>;
  private readonly elements: string[] = [];

  /**
   * @param spec a validated spec
   * @param schema the column names of the rows this transformer will see (FORMAT_SCHEMAS[format])
   * @throws TesseraError CONFIG when a spec field is not a column of `schema`
   */
  constructor(spec: JobSpec, private readonly schema: FeatureSchema) {
    const fields: Record<string, string[]> = {};
    for (const t of spec.features.tables) fields[t.name] = [];
    const addSlot = (field: string, col: number, table: string): IdSlot =>
      ({ field, col, table, slot: fields[table].push(field) - 1, stride: 0 });
    const denseNames: string[] = [];
    for (const f of spec.features.numeric) {
      const col = column(schema.numericNames, f.name, 'numeric');
      if (f.transform !== 'bucketize') {
        this.dense.push({ col, log: f.transform === 'log', missing: f.missing });
        denseNames.push(f.name);
        continue;
      }
      this.buckets.push({
        ...addSlot(f.name, col, f.table), missing: f.missing,
        boundaries: Float64Array.from(f.boundaries), bucketIds: bucketIds(f.name, f.boundaries.length + 1),
      });
    }
    for (const f of spec.features.categorical) {
      const col = column(schema.categoricalNames, f.name, 'categorical');
      this.categorical.push({ ...addSlot(f.name, col, f.table), hasher: new FeatureHasher(f.name) });
    }
    for (const f of spec.features.lists) {
      const col = column(schema.categoricalNames, f.name, 'list');
      const first = addSlot(`${f.name}[0]`, col, f.table);
      for (let k = 1; k < f.maxLen; k++) fields[f.table].push(`${f.name}[${k}]`);
      this.listSlots.push({ ...first, field: f.name, hasher: new FeatureHasher(f.hashAs), separator: f.separator, maxLen: f.maxLen });
    }
    for (const s of [...this.buckets, ...this.categorical, ...this.listSlots]) s.stride = fields[s.table].length;
    this.lists = Object.freeze(spec.features.lists.map((f, i) => Object.freeze({
      field: f.name, table: f.table, slot: this.listSlots[i].slot, maxLen: f.maxLen, pooling: f.pooling,
      ...(f.target === undefined ? {} : { targetSlot: fields[f.table].indexOf(f.target) }),
    })));
    this.denseNames = Object.freeze(denseNames);
    this.tables = Object.freeze(spec.features.tables.map((t) => t.name));
    for (const t of this.tables) Object.freeze(fields[t]);
    this.fieldsPerTable = Object.freeze(fields);
    this.dropMissing = spec.features.missingCategorical === 'drop';
    this.masked = new Set(this.dropMissing ? this.tables : this.listSlots.map((l) => l.table));
  }

  /**
   * Transforms `rows` into one batch (fresh arrays; nothing is kept).
   * @throws TesseraError INVALID_ARGUMENT (naming the row and field) when a row has the wrong
   *   number of columns, a label outside [0, 1], a non-finite numeric value or a non-string
   *   categorical value. Readers are expected to have rejected such lines already.
   */
  transformBatch(rows: readonly RawRow[]): TransformedBatch {
    const n = rows.length;
    const numDense = this.denseNames.length;
    const labels = new Float32Array(n);
    const dense = new Float32Array(n * numDense);
    const ids: Record<string, IdArray> = {};
    const mask: Record<string, Uint8Array> = {};
    for (const t of this.tables) {
      ids[t] = new Uint32Array(2 * n * this.fieldsPerTable[t].length);
      if (this.masked.has(t)) mask[t] = new Uint8Array(n * this.fieldsPerTable[t].length).fill(1);
    }
    const listLengths = new Float32Array(n * this.listSlots.length);
    for (let r = 0; r < n; r++) {
      const row = rows[r];
      this.checkRow(row, r);
      labels[r] = row.label;
      for (let j = 0; j < numDense; j++) {
        const d = this.dense[j];
        const x = this.numericValue(row, d.col, d.missing, r);
        dense[r * numDense + j] = d.log ? Math.log1p(Math.max(x, 0)) : x;
      }
      this.writeBuckets(row, r, ids);
      this.writeCategorical(row, r, ids, mask);
      this.writeLists(row, r, ids, mask, listLengths);
    }
    const fieldsPerTable: Record<string, string[]> = {};
    for (const t of this.tables) fieldsPerTable[t] = this.fieldsPerTable[t] as string[];
    const batch: TransformedBatch = { size: n, labels, dense, denseNames: this.denseNames as string[], ids, fieldsPerTable };
    if (this.masked.size > 0) batch.mask = mask;
    if (this.listSlots.length > 0) batch.listLengths = listLengths;
    return batch;
  }

  private checkRow(row: RawRow, r: number): void {
    const { numericNames, categoricalNames } = this.schema;
    if (row.numeric.length !== numericNames.length || row.categorical.length !== categoricalNames.length) {
      invalid(`row ${r}: expected ${numericNames.length} numeric and ${categoricalNames.length} categorical values, `
        + `got ${row.numeric.length} and ${row.categorical.length}`);
    }
    if (!(row.label >= 0 && row.label <= 1)) invalid(`row ${r}: label must be in [0, 1] (got ${row.label})`);
  }

  private numericValue(row: RawRow, col: number, missing: number, r: number): number {
    const v = row.numeric[col];
    if (v === null || v === undefined) return missing;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      invalid(`row ${r}: numeric field ${this.schema.numericNames[col]} must be a finite number (got ${String(v)})`);
    }
    return v;
  }

  private writeBuckets(row: RawRow, r: number, ids: Record<string, IdArray>): void {
    for (const b of this.buckets) {
      const k = bucketIndex(b.boundaries, this.numericValue(row, b.col, b.missing, r));
      const at = 2 * (r * b.stride + b.slot);
      const out = ids[b.table];
      out[at] = b.bucketIds[2 * k];
      out[at + 1] = b.bucketIds[2 * k + 1];
    }
  }

  private writeCategorical(row: RawRow, r: number, ids: Record<string, IdArray>, mask: Record<string, Uint8Array>): void {
    for (const c of this.categorical) {
      let v = row.categorical[c.col];
      const index = r * c.stride + c.slot;
      if (v === null || v === undefined || v === '') {
        if (this.dropMissing) {
          mask[c.table][index] = 0; // the id stays 0
          continue;
        }
        v = '';
      } else if (typeof v !== 'string') {
        invalid(`row ${r}: categorical field ${c.field} must be a string (got ${typeof v})`);
      }
      c.hasher.hash(v, ids[c.table], index);
    }
  }

  private writeLists(row: RawRow, r: number, ids: Record<string, IdArray>, mask: Record<string, Uint8Array>, lengths: Float32Array): void {
    this.listSlots.forEach((l, i) => {
      const v = row.categorical[l.col];
      if (v !== null && v !== undefined && typeof v !== 'string') invalid(`row ${r}: list field ${l.field} must be a string (got ${typeof v})`);
      const n = splitListCell(v, l.separator, l.maxLen, this.elements);
      lengths[r * this.listSlots.length + i] = n;
      const first = r * l.stride + l.slot;
      for (let k = 0; k < n; k++) l.hasher.hash(this.elements[k], ids[l.table], first + k);
      mask[l.table].fill(0, first + n, first + l.maxLen); // the ids there stay 0
    });
  }
}

function column(names: readonly string[], field: string, kind: string): number {
  const col = names.indexOf(field);
  if (col < 0) {
    throw new TesseraError(ERROR_CODES.CONFIG,
      `${kind} field "${field}" of the spec is not a column of the data schema (${names.join(', ') || 'none'})`);
  }
  return col;
}

/** The ids of "b0" .. "b<count-1>" in `field`, as an IdArray. */
function bucketIds(field: string, count: number): Uint32Array {
  const out = new Uint32Array(2 * count);
  const hasher = new FeatureHasher(field);
  for (let k = 0; k < count; k++) hasher.hash(`b${k}`, out, k);
  return out;
}
