/**
 * GroupedAuc (GAUC): the AUC of each group (a user, a session) computed exactly, then averaged
 * weighted by the group's impressions — `Σ_g n_g · AUC_g / Σ_g n_g` — over the groups that hold
 * both classes; a group whose rows are all clicks or all non-clicks has no AUC and is skipped,
 * as TorchRec's GAUC skips it. (TorchRec's GAUCMetric then takes the plain mean over groups and
 * also skips groups whose predictions are all equal; the plain mean is reported beside the
 * weighted one as `unweighted`, and an all-equal group counts here with its AUC of 0.5.)
 *
 * **Memory.** Exact per-group AUC needs every row of a group, so rows are kept: 13 bytes a row
 * (group index, prediction, label) plus one Map entry per group. Two caps bound it:
 * - `maxGroups` (default 100,000) groups are held; rows of any group first seen after that are
 *   skipped, and counted in `skipped_rows`;
 * - `maxRows` (default 10,000,000 rows, 130 MB) rows are held; later rows are skipped the same
 *   way, so a held group then reports the AUC of its first rows.
 *
 * ```ts
 * const g = new GroupedAuc();
 * for (const r of rows) g.add(r.userId, r.p, r.clicked);
 * g.report().gauc;
 * ```
 */
import { checkScoredRow, positiveInt } from './argument-checks';
import { auc } from './metrics';

/** Default cap on groups held by a GroupedAuc. */
export const DEFAULT_MAX_GROUPS = 100_000;
/** Default cap on rows held by a GroupedAuc. */
export const DEFAULT_MAX_GROUP_ROWS = 10_000_000;
const INITIAL_ROWS = 1024;

/** What `GroupedAuc.report()` returns (JSON key names as reports print them). */
export interface GroupedAucReport {
  /** impression-weighted mean of per-group AUC over groups with both classes; NaN with none */
  gauc: number;
  /** plain mean of per-group AUC over the same groups */
  unweighted: number;
  /** groups with both classes (the ones averaged) */
  groups: number;
  /** groups skipped because every row had the same label */
  single_class_groups: number;
  /** rows of the averaged groups */
  rows: number;
  /** rows not held because a cap was reached (see the file comment) */
  skipped_rows: number;
}

/** Grouped AUC with exact per-group AUC under caps on groups and rows; see the file comment. */
export class GroupedAuc {
  private readonly maxGroups: number;
  private readonly maxRows: number;
  private readonly groupIndex = new Map<string, number>();
  private group = new Uint32Array(INITIAL_ROWS);
  private prob = new Float64Array(INITIAL_ROWS);
  private label = new Uint8Array(INITIAL_ROWS);
  private n = 0;
  private skipped = 0;

  /** @param opts caps on groups and rows held (defaults 100,000 and 10,000,000) */
  constructor(opts: { maxGroups?: number; maxRows?: number } = {}) {
    this.maxGroups = positiveInt(opts.maxGroups ?? DEFAULT_MAX_GROUPS, 'maxGroups');
    this.maxRows = positiveInt(opts.maxRows ?? DEFAULT_MAX_GROUP_ROWS, 'maxRows');
  }

  /**
   * Adds one scored row of group `group`, or counts it as skipped when a cap is reached.
   * @throws TesseraError INVALID_ARGUMENT (nothing added) when `p` is not in [0, 1] or `label`
   *   is not 0 or 1.
   */
  add(group: string, p: number, label: number): void {
    checkScoredRow(p, label);
    let g = this.n < this.maxRows ? this.groupIndex.get(group) : undefined;
    if (g === undefined && this.n < this.maxRows && this.groupIndex.size < this.maxGroups) {
      g = this.groupIndex.size;
      this.groupIndex.set(group, g);
    }
    if (g === undefined) {
      this.skipped++;
      return;
    }
    this.reserve(this.n + 1);
    this.group[this.n] = g;
    this.prob[this.n] = p;
    this.label[this.n] = label;
    this.n++;
  }

  /** GAUC of every row held (sorts the rows by group: O(rows) plus each group's AUC sort). */
  report(): GroupedAucReport {
    const groups = this.groupIndex.size;
    const start = new Uint32Array(groups + 1);
    for (let i = 0; i < this.n; i++) start[this.group[i] + 1]++;
    for (let g = 0; g < groups; g++) start[g + 1] += start[g];
    const at = start.slice(0, groups);
    const prob = new Float64Array(this.n);
    const label = new Uint8Array(this.n);
    for (let i = 0; i < this.n; i++) {
      const j = at[this.group[i]]++;
      prob[j] = this.prob[i];
      label[j] = this.label[i];
    }
    const out: GroupedAucReport = { gauc: NaN, unweighted: NaN, groups: 0, single_class_groups: 0, rows: 0, skipped_rows: this.skipped };
    let weighted = 0;
    let plain = 0;
    for (let g = 0; g < groups; g++) {
      const a = auc(label.subarray(start[g], start[g + 1]), prob.subarray(start[g], start[g + 1]));
      if (Number.isNaN(a)) {
        out.single_class_groups++;
        continue;
      }
      const rows = start[g + 1] - start[g];
      weighted += rows * a;
      plain += a;
      out.rows += rows;
      out.groups++;
    }
    if (out.groups > 0) {
      out.gauc = weighted / out.rows;
      out.unweighted = plain / out.groups;
    }
    return out;
  }

  /** Grows the row arrays geometrically (amortised O(1) appends). */
  private reserve(rows: number): void {
    if (rows <= this.group.length) return;
    const cap = Math.min(Math.max(rows, this.group.length * 2), this.maxRows);
    const grow = <T extends Uint32Array | Float64Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a.subarray(0, this.n) as never);
      return b;
    };
    this.group = grow(this.group, (k) => new Uint32Array(k));
    this.prob = grow(this.prob, (k) => new Float64Array(k));
    this.label = grow(this.label, (k) => new Uint8Array(k));
  }
}
