/**
 * SlicedEval: AUC (with its 95% interval), LogLoss, calibration and count per slice of a scored
 * stream, as TFMA reports them, plus grouped AUC. Used by `tessera eval --slice-by` over a data
 * file and by serving over feedback traffic; both pass each row's raw field values (before
 * hashing) keyed by the job spec's field names.
 *
 * **Slices.** `sliceBy: ['C6']` slices by each value of C6 (`C6=7e0ccccf`); with several fields
 * each field is sliced alone and by the combination of all of them (`C6=7e0ccccf,C9=a73ee510`).
 * A missing value (undefined, null or "") is the value `(missing)`.
 *
 * **Top K and `other`, in bounded memory.** Each slicing holds its first `maxSlices` distinct
 * values (default 128) — a plain cap, not a sketch. Rows of any value first seen after the cap is
 * reached go to an overflow accumulator (counted as `over_cap_rows`), so with millions of values
 * (a user id) memory stays at `maxSlices + 1` StreamingAucs per slicing: with the default 16,384
 * bins, 256 KiB each, 32 MiB at most (a smaller `bins` trades AUC resolution for memory; each
 * slice reports its own resolution bound, `auc_max_error`). The report lists the `topK` held slices by count (default
 * 10) and one `other` slice: the remaining held slices merged with the overflow. Every row is in
 * exactly one reported slice, so the counts add up to the total; a frequent value that first
 * appears only after the cap is full is counted in `other` rather than ranked.
 *
 * **Grouped AUC.** With `groupBy`, a GroupedAuc (exact per-group AUC, impression-weighted, groups
 * with one class skipped; caps `maxGroups` and `maxGroupRows`, see grouped-auc.ts).
 *
 * ```ts
 * const s = new SlicedEval({ sliceBy: ['C6', 'C9'], groupBy: 'C1', topK: 5 });
 * for (const r of rows) s.add({ C6: r.c6, C9: r.c9, C1: r.c1 }, r.p, r.label);
 * s.report().slicings[0].top; // [{ slice: 'C6=7e0ccccf', count, auc, auc_ci95, logloss, … }, …]
 * ```
 */
import { checkScoredRow, invalidArgument, positiveInt } from './argument-checks';
import { GroupedAuc, GroupedAucReport } from './grouped-auc';
import { AucSummary, DEFAULT_AUC_BINS, StreamingAuc } from './streaming-auc';

/** Default number of slices listed per slicing. */
export const DEFAULT_TOP_K = 10;
/** Default number of distinct slice values held per slicing. */
export const DEFAULT_MAX_SLICES = 128;
/** How a missing field value is shown in a slice name. */
export const MISSING_VALUE = '(missing)';

/** A raw field value as read from a data row or a request (before hashing). */
export type FieldValue = string | number | null | undefined;

/** Options of a SlicedEval; only `sliceBy` is required. */
export interface SlicedEvalOptions {
  /** fields to slice by: each alone, and their combination when there are several */
  sliceBy: readonly string[];
  /** field whose values are the groups of grouped AUC (e.g. a user id) */
  groupBy?: string;
  /** slices listed per slicing, largest first (default 10) */
  topK?: number;
  /** distinct values held per slicing (default 128) */
  maxSlices?: number;
  /** score bins of each slice's StreamingAuc (default 16,384: 256 KiB a slice) */
  bins?: number;
  /** GroupedAuc caps (defaults 100,000 groups and 10,000,000 rows) */
  maxGroups?: number;
  maxGroupRows?: number;
}

/** One slice's figures: its name (`FIELD=value[,FIELD2=value]`, `all` or `other`) and a StreamingAuc summary. */
export interface SliceMetrics extends AucSummary {
  slice: string;
}

/** The report of one slicing (one field, or the combination of several). */
export interface SlicingReport {
  fields: string[];
  /** distinct values held (at most maxSlices) */
  values: number;
  /** the topK held slices by count, largest first (equal counts by name) */
  top: SliceMetrics[];
  /** every row not in `top`; null when there is none */
  other: SliceMetrics | null;
  /** rows of values first seen after maxSlices values were held (they are in `other`) */
  over_cap_rows: number;
}

/** What `SlicedEval.report()` returns. */
export interface SliceReport {
  /** every row */
  overall: SliceMetrics;
  slicings: SlicingReport[];
  /** grouped AUC when `groupBy` was given, else null */
  gauc: (GroupedAucReport & { field: string }) | null;
}

/** One slicing's state. */
interface Slicing {
  fields: readonly string[];
  held: Map<string, StreamingAuc>;
  overflow: StreamingAuc;
}

/** Per-slice and grouped evaluation of a scored stream; see the file comment. */
export class SlicedEval {
  private readonly slicings: Slicing[];
  private readonly overall: StreamingAuc;
  private readonly grouped: GroupedAuc | null;
  private readonly topK: number;
  private readonly maxSlices: number;
  private readonly bins: number;

  /** @throws TesseraError INVALID_ARGUMENT on a repeated field or a limit that is not a positive integer */
  constructor(private readonly opts: SlicedEvalOptions) {
    const { sliceBy } = opts;
    const repeated = sliceBy.find((f, i) => sliceBy.indexOf(f) !== i);
    if (repeated !== undefined) invalidArgument(`field ${repeated} is named twice among the slice fields`);
    this.topK = positiveInt(opts.topK ?? DEFAULT_TOP_K, 'topK');
    this.maxSlices = positiveInt(opts.maxSlices ?? DEFAULT_MAX_SLICES, 'maxSlices');
    this.bins = opts.bins ?? DEFAULT_AUC_BINS;
    this.overall = new StreamingAuc({ bins: this.bins });
    const fieldSets = sliceBy.length > 1 ? [...sliceBy.map((f) => [f]), [...sliceBy]] : sliceBy.map((f) => [f]);
    this.slicings = fieldSets.map((fields) => ({ fields, held: new Map(), overflow: new StreamingAuc({ bins: this.bins }) }));
    this.grouped = opts.groupBy === undefined ? null : new GroupedAuc({ maxGroups: opts.maxGroups, maxRows: opts.maxGroupRows });
  }

  /**
   * Adds one scored row with its raw field values (fields not named in the options are ignored).
   * @throws TesseraError INVALID_ARGUMENT (nothing added) when `p` is not in [0, 1] or `label`
   *   is not 0 or 1.
   */
  add(fields: Readonly<Record<string, FieldValue>>, p: number, label: number): void {
    checkScoredRow(p, label);
    this.overall.add(p, label);
    for (const s of this.slicings) {
      const key = s.fields.map((f) => `${f}=${valueName(fields[f])}`).join(',');
      let acc = s.held.get(key);
      if (acc === undefined && s.held.size < this.maxSlices) s.held.set(key, acc = new StreamingAuc({ bins: this.bins }));
      (acc ?? s.overflow).add(p, label);
    }
    if (this.grouped) this.grouped.add(valueName(fields[this.opts.groupBy as string]), p, label);
  }

  /** The figures of every row added so far. */
  report(): SliceReport {
    return {
      overall: { slice: 'all', ...this.overall.summary() },
      slicings: this.slicings.map((s) => this.slicingReport(s)),
      gauc: this.grouped ? { field: this.opts.groupBy as string, ...this.grouped.report() } : null,
    };
  }

  private slicingReport(s: Slicing): SlicingReport {
    const ranked = [...s.held].sort(([ka, a], [kb, b]) => b.count - a.count || (ka < kb ? -1 : ka > kb ? 1 : 0));
    const rest = ranked.slice(this.topK);
    const other = new StreamingAuc({ bins: this.bins }).merge(s.overflow);
    for (const [, acc] of rest) other.merge(acc);
    return {
      fields: [...s.fields],
      values: s.held.size,
      top: ranked.slice(0, this.topK).map(([slice, acc]) => ({ slice, ...acc.summary() })),
      other: other.count > 0 ? { slice: 'other', ...other.summary() } : null,
      over_cap_rows: s.overflow.count,
    };
  }
}

/** A raw value as it appears in a slice or group name. */
function valueName(v: FieldValue): string {
  return v === undefined || v === null || v === '' ? MISSING_VALUE : String(v);
}
