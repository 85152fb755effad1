/**
 * The settings the defaults search tries, stage by stage (ADR 0025). Each stage varies one
 * setting of the spec with the best of the earlier stages kept; a candidate is a named edit of
 * the spec's canonical YAML keys.
 */
import type { PlainSpec } from './spec-variants';

/** One setting value to try. */
export interface Candidate {
  /** Short label for tables, e.g. `adam 0.001`. */
  label: string;
  edit(p: PlainSpec): void;
}

/** One setting, with the values tried. */
export interface Stage {
  name: string;
  candidates: Candidate[];
}

function tables(p: PlainSpec, edit: (t: Record<string, unknown>) => void): void {
  for (const t of p.features.tables) edit(t);
}

const tableOptimizer = (kind: string, lr: number, extra: Record<string, number> = {}): Candidate => ({
  label: `${kind} ${lr}${Object.entries(extra).map(([k, v]) => ` ${k} ${v}`).join('')}`,
  edit: (p) => tables(p, (t) => { t.optimizer = { kind, lr, ...extra }; }),
});

const init = (kind: 'uniform' | 'normal', v: number): Candidate => ({
  label: `${kind} ${v}`,
  edit: (p) => tables(p, (t) => { t.initializer = kind === 'uniform' ? { kind, scale: v } : { kind, std: v }; }),
});

const training = (key: string, v: number): Candidate => ({ label: `${v}`, edit: (p) => { p.training[key] = v; } });

const denseOptimizer = (kind: string, lr: number): Candidate => ({
  label: `${kind} ${lr}`, edit: (p) => { p.model.dense_optimizer = { kind, lr }; },
});

/** The lazy L2 penalty on every table's rows (`l2_reg`), beside the chosen optimizer. */
const tableL2 = (v: number): Candidate => ({
  label: v === 0 ? 'none' : `l2_reg ${v}`,
  edit: (p) => tables(p, (t) => {
    const { l2_reg: _, ...opt } = t.optimizer as Record<string, unknown>;
    t.optimizer = v === 0 ? opt : { ...opt, l2_reg: v };
  }),
});

const dropout = (v: number): Candidate => ({ label: v === 0 ? 'none' : `${v}`, edit: (p) => { if (v === 0) delete p.model.dropout; else p.model.dropout = v; } });

const hidden = (widths: number[]): Candidate => ({ label: `[${widths.join(', ')}]`, edit: (p) => { p.model.hidden = widths; } });

/**
 * Integer counts bucketed the way Criteo competition winners did (floor(ln(x)²) above 2): cut
 * points -5, 0, 1, 2, 3 and e^√k for k = 2..200; a missing value (-10) gets its own bucket.
 */
export const LOG_SQUARED_BOUNDARIES: readonly number[] = Object.freeze([
  -5, 0, 1, 2, 3, ...Array.from({ length: 199 }, (_, i) => Number(Math.exp(Math.sqrt(i + 2)).toPrecision(6))),
]);

/** Numeric fields bucketized into one shared table (`numeric_buckets`) instead of dense inputs. */
const bucketizeNumeric: Candidate = {
  label: 'bucketize log²',
  edit: (p) => {
    const numeric = p.features.numeric as Array<Record<string, unknown>>;
    if (numeric.length === 0) return;
    p.features.numeric = numeric.map((f) => ({ name: f.name, transform: 'bucketize', missing: -10, boundaries: LOG_SQUARED_BOUNDARIES, table: 'numeric_buckets' }));
    p.features.tables.push({ ...p.features.tables[0], name: 'numeric_buckets' });
  },
};

/** The stages, in the order the search runs them. */
export const SEARCH_STAGES: readonly Stage[] = [
  {
    name: 'table optimizer',
    candidates: [
      ...[0.01, 0.02, 0.05, 0.1, 0.2].map((lr) => tableOptimizer('adagrad', lr)),
      ...[0.0003, 0.001, 0.003, 0.01].map((lr) => tableOptimizer('adam', lr)),
    ],
  },
  { name: 'table L2', candidates: [0, 0.0001, 0.001, 0.01].map(tableL2) },
  { name: 'numeric features', candidates: [{ label: 'log1p dense', edit: () => undefined }, bucketizeNumeric] },
  // Three values around the shipped one, the shipped one first (ADR 0025).
  { name: 'table initializer', candidates: [init('uniform', 0.01), init('uniform', 0.003), init('uniform', 0.03)] },
  { name: 'batch size', candidates: [256, 128, 512].map((b) => training('batch_size', b)) },
  { name: 'dense optimizer', candidates: [0.001, 0.0003, 0.003].map((lr) => denseOptimizer('adam', lr)) },
  { name: 'MLP widths', candidates: [[400, 400], [200, 200], [400, 400, 400]].map(hidden) },
  { name: 'MLP dropout', candidates: [0, 0.1, 0.2].map(dropout) },
  { name: 'pushes in flight', candidates: [0, 1, 2].map((n) => training('max_inflight_pushes', n)) },
];
