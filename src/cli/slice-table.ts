/**
 * The readable form of a SliceReport that `tessera eval --slice-by/--group-by` prints without
 * --json: one table per slicing (all rows first, then the top slices, then `other`) and a
 * grouped-AUC line.
 */
import type { SliceMetrics, SliceReport } from '../eval/sliced-eval';

const HEADER = ['slice', 'count', 'positives', 'AUC', '95% CI', 'LogLoss', 'calibration'];

function fixed(x: number, digits: number): string {
  return Number.isNaN(x) ? '-' : x.toFixed(digits);
}

function cells(m: SliceMetrics): string[] {
  const [lo, hi] = m.auc_ci95;
  return [m.slice, String(m.count), String(m.positives), fixed(m.auc, 4),
    Number.isNaN(lo) ? '-' : `[${lo.toFixed(4)}, ${hi.toFixed(4)}]`, fixed(m.logloss, 4), fixed(m.calibration, 3)];
}

/** Rows of cells as left-aligned first column and right-aligned numbers. */
function table(rows: string[][]): string[] {
  const widths = HEADER.map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
}

/**
 * Renders `report` as text tables.
 *
 * ```text
 * slices by C6 (8 values)
 * slice          count  positives     AUC            95% CI  LogLoss  calibration
 * all             1000        254  0.7412  [0.7051, 0.7773]   0.5011        1.021
 * C6=7e0ccccf      462        101  0.7390  [0.6870, 0.7910]   0.4840        0.990
 * ```
 */
export function formatSliceReport(report: SliceReport): string {
  const out: string[] = [];
  for (const s of report.slicings) {
    const capped = s.over_cap_rows > 0 ? `; ${s.over_cap_rows} rows of values past the cap are in other` : '';
    out.push(`slices by ${s.fields.join(' × ')} (${s.values} values${capped})`);
    const rows = [HEADER, cells(report.overall), ...s.top.map(cells)];
    if (s.other) rows.push(cells(s.other));
    out.push(...table(rows), '');
  }
  const g = report.gauc;
  if (g) {
    out.push(`grouped AUC by ${g.field}: ${fixed(g.gauc, 4)} (unweighted mean ${fixed(g.unweighted, 4)}) over ${g.groups} groups`
      + ` and ${g.rows} rows; ${g.single_class_groups} groups with one class skipped`
      + `${g.skipped_rows > 0 ? `; ${g.skipped_rows} rows past the group caps skipped` : ''}`);
  }
  return out.join('\n').trimEnd();
}
