/**
 * Online quality per version from feedback: clients report what happened to predictions (a
 * click or not) and the server keeps, per model version, a streaming AUC with its 95% confidence
 * interval, LogLoss and calibration (src/eval's StreamingAuc), and optionally the same per slice
 * of raw field values and a grouped AUC (src/eval's SlicedEval), so a canary can be compared with
 * stable on live traffic.
 *
 * A label refers to a prediction by request id and row (`{"request_id", "index", "label"}`, or
 * `{"request_id", "labels": […]}` for every row): the server remembers recent answers (their
 * version, probability and slice values) in a bounded cache, oldest requests dropped first.
 * Feedback may also carry the features (`{"instance": {…}, "label"}`): the row is then predicted
 * again, routed as a prediction would be, and scored on the version that answers it. Each row is
 * scored once; labels for rows the cache no longer holds are counted as unmatched, not guessed.
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import { SlicedEval, SliceReport } from '../eval/sliced-eval';
import { AucSummary, StreamingAuc } from '../eval/streaming-auc';
import { schemaFor } from '../data/record';
import { rawFieldReader, RawValue, specFieldNames } from '../spec/raw-fields';
import type { JobSpec } from '../spec/types';
import type { PredictResult } from './prediction-service';

/** Default number of answered rows the cache remembers. */
export const DEFAULT_FEEDBACK_ROWS = 100_000;
/** Score bins of each slice's accumulator: 64 KiB a slice (the overall keeps the default 16,384). */
const SLICE_BINS = 4096;
/** Distinct values held per slicing and version. */
const SLICE_VALUES = 32;

/** How feedback is kept. */
export interface FeedbackOptions {
  /** answered rows remembered for feedback by request id */
  cacheRows?: number;
  /** raw fields to slice each version's quality by */
  sliceBy?: readonly string[];
  /** raw field of the grouped AUC (e.g. a user id) */
  groupBy?: string;
}

/** One remembered answer. */
interface Answered {
  model: string;
  versions: Uint32Array;
  probs: Float32Array;
  /** 1 once the row's label has been scored */
  scored: Uint8Array;
  /** per slice field, the row values */
  fields: Map<string, RawValue[]>;
}

/** One version's quality. */
interface Quality {
  overall: StreamingAuc;
  sliced: SlicedEval | null;
}

/** A version's quality as status and metrics show it. */
export interface VersionQuality extends AucSummary {
  slices?: SliceReport;
}

/** What one feedback call did. */
export interface FeedbackOutcome {
  accepted: number;
  unmatched: { item: number; request_id?: string; reason: string }[];
}

function invalid(where: string, why: string): never {
  throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `${where}: ${why}`);
}

/** A label: 0 or 1 (true and false too). */
export function labelOf(v: unknown, where: string): 0 | 1 {
  if (v === 0 || v === 1) return v;
  if (v === true || v === false) return v ? 1 : 0;
  return invalid(where, `must be 0 or 1 (clicked or not), got ${JSON.stringify(v)}`);
}

/** Feedback of every model; see the file comment. */
export class FeedbackStore {
  private readonly cache = new Map<string, Answered>();
  private cachedRows = 0;
  private readonly quality = new Map<string, Map<number, Quality>>();
  private readonly unmatched = new Map<string, number>();
  private readonly fieldsOf: readonly string[];

  constructor(private readonly opts: FeedbackOptions = {}) {
    this.fieldsOf = [...new Set([...(opts.sliceBy ?? []), ...(opts.groupBy ? [opts.groupBy] : [])])];
  }

  /** The fields requests must be allowed to carry beside the features (slice fields that are not features). */
  get sliceFields(): readonly string[] {
    return this.fieldsOf;
  }

  /** Remembers an answer for feedback by its request id. */
  remember(r: PredictResult, spec: JobSpec): void {
    const n = r.probs.length;
    const fields = this.fieldValues(r, spec);
    this.cache.delete(r.requestId);
    this.cache.set(r.requestId, { model: r.model, versions: r.versions, probs: r.probs, scored: new Uint8Array(n), fields });
    this.cachedRows += n;
    const cap = this.opts.cacheRows ?? DEFAULT_FEEDBACK_ROWS;
    for (const [id, a] of this.cache) {
      if (this.cachedRows <= cap) break;
      this.cache.delete(id);
      this.cachedRows -= a.probs.length;
    }
  }

  /**
   * Scores labels of remembered rows: `rows` are [request id, row index or every row, label(s)].
   * Returns how many were scored; the others are listed with the reason.
   */
  score(model: string, items: readonly { item: number; requestId: string; index?: number; labels: (0 | 1)[] }[]): FeedbackOutcome {
    const out: FeedbackOutcome = { accepted: 0, unmatched: [] };
    for (const it of items) {
      const a = this.cache.get(it.requestId);
      const miss = (reason: string): void => { out.unmatched.push({ item: it.item, request_id: it.requestId, reason }); };
      if (!a || a.model !== model) {
        miss(a ? `request ${it.requestId} was answered by model ${a.model}` : 'unknown request id (never answered here, or no longer remembered)');
        continue;
      }
      const rows = it.index === undefined ? Array.from(a.probs, (_, i) => i) : [it.index];
      if (it.index !== undefined && !(it.index >= 0 && it.index < a.probs.length)) {
        miss(`index ${it.index} is outside the request's ${a.probs.length} rows`);
        continue;
      }
      if (it.index === undefined && it.labels.length !== a.probs.length) {
        miss(`${it.labels.length} labels for the request's ${a.probs.length} rows`);
        continue;
      }
      rows.forEach((i, k) => {
        if (a.scored[i]) return miss(`row ${i} already has a label`);
        a.scored[i] = 1;
        this.add(model, a.versions[i], a.probs[i], it.labels[k], (f) => a.fields.get(f)![i]);
        out.accepted++;
      });
    }
    this.unmatched.set(model, (this.unmatched.get(model) ?? 0) + out.unmatched.length);
    return out;
  }

  /** Scores freshly predicted rows (feedback that carried its features). */
  scoreAnswered(r: PredictResult, labels: readonly (0 | 1)[], spec: JobSpec): void {
    const fields = this.fieldValues(r, spec);
    for (let i = 0; i < labels.length; i++) this.add(r.model, r.versions[i], r.probs[i], labels[i], (f) => fields.get(f)![i]);
  }

  /** The slice fields' values of every row of an answer: spec fields from the rows, others from the extras. */
  private fieldValues(r: PredictResult, spec: JobSpec): Map<string, RawValue[]> {
    const n = r.probs.length;
    const fields = new Map<string, RawValue[]>();
    for (const f of this.fieldsOf) fields.set(f, r.decoded.extra.get(f) ?? new Array<RawValue>(n).fill(null));
    const specFields = this.fieldsOf.filter((f) => specFieldNames(spec).includes(f));
    if (specFields.length === 0) return fields;
    const read = rawFieldReader(spec, schemaFor(spec.data.format), specFields, 'feedback slices');
    r.decoded.rows.forEach((row, i) => { for (const [f, v] of Object.entries(read(row))) fields.get(f)![i] = v; });
    return fields;
  }

  /** The quality of every version of `model` with feedback, by version. */
  report(model: string): Record<string, VersionQuality> {
    const out: Record<string, VersionQuality> = {};
    for (const [v, q] of this.quality.get(model) ?? []) out[v] = { ...q.overall.summary(), ...(q.sliced ? { slices: q.sliced.report() } : {}) };
    return out;
  }

  /** Labels not matched to a remembered prediction, per model. */
  unmatchedOf(model: string): number {
    return this.unmatched.get(model) ?? 0;
  }

  /** Every (model, version) with feedback and its overall summary. */
  summaries(): { model: string; version: number; summary: AucSummary }[] {
    return [...this.quality].flatMap(([model, byV]) => [...byV].map(([version, q]) => ({ model, version, summary: q.overall.summary() })));
  }

  private add(model: string, version: number, p: number, label: 0 | 1, field: (f: string) => RawValue): void {
    let byV = this.quality.get(model);
    if (!byV) this.quality.set(model, byV = new Map());
    let q = byV.get(version);
    if (!q) {
      const sliced = this.fieldsOf.length === 0 ? null
        : new SlicedEval({ sliceBy: this.opts.sliceBy ?? [], groupBy: this.opts.groupBy, bins: SLICE_BINS, maxSlices: SLICE_VALUES });
      byV.set(version, q = { overall: new StreamingAuc(), sliced });
    }
    q.overall.add(p, label);
    q.sliced?.add(Object.fromEntries(this.fieldsOf.map((f) => [f, field(f)])), p, label);
  }
}
