/**
 * The defaults search behind the shipped examples (ADR 0025): a coordinate search over the
 * settings in quality/search-stages.ts, each candidate trained over several seeds and scored on
 * the validation split only (rows 6,001–8,000), after every epoch. A stage keeps the candidate
 * with the best mean AUC at its best epoch count (the incoming value unless beaten by more than
 * `--margin`, default 0.002); later stages start from it.
 *
 *   npm run bench:quality-search -- --dataset criteo|avazu [--seeds 1,2,3] [--epochs 4]
 *        [--stages "table optimizer,batch size"] [--candidates "adam 0.001,adagrad 0.05"]
 *        [--results FILE.jsonl] [--data-dir DIR] [--margin 0.002]
 *
 * `--candidates` keeps only the candidates with those labels in the stages that have any (a way
 * to split one stage over several processes; the runs meet in the results file).
 *
 * Every run is appended to the results file (default ./quality-search-<dataset>.jsonl) and a
 * rerun skips what the file already holds. stderr gets one line per candidate; the end prints
 * the table of runs of the whole file (markdown, on stdout) and the chosen settings.
 */
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { silentLogger } from '../src/common/logger';
import { selectBackend } from '../src/model/backend';
import { loadJobSpec } from '../src/spec/job-spec';
import type { JobSpec } from '../src/spec/types';
import { avazuSplit, criteoSplit, DEFAULT_DATA_DIR, Split } from './quality/datasets';
import { SEARCH_STAGES, Stage } from './quality/search-stages';
import { respec, withSeed } from './quality/spec-variants';
import { formatSpread, spread } from './quality/spread';
import { trainRun } from './quality/train-run';

const REPO_ROOT = path.resolve(__dirname, '..', __dirname.includes(`${path.sep}dist${path.sep}`) ? '..' : '');

/** One candidate's runs: AUC and LogLoss per seed per epoch (a line of the results file). */
export interface Scored {
  key: string;
  stage: string;
  label: string;
  /** aucs[seed index][epoch index] */
  aucs: number[][];
  loglosses: number[][];
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

/** The best epoch count of a candidate: mean AUC over seeds at each epoch, the highest. */
export function bestEpoch(aucs: number[][]): { epoch: number; auc: number; sd: number } {
  let best = { epoch: 0, auc: -Infinity, sd: 0 };
  for (let e = 0; e < aucs[0].length; e++) {
    const s = spread(aucs.map((a) => a[e]));
    if (s.mean > best.auc) best = { epoch: e + 1, auc: s.mean, sd: s.sd };
  }
  return best;
}

function loadResults(file: string): Map<string, Scored> {
  const out = new Map<string, Scored>();
  if (!existsSync(file)) return out;
  for (const line of readFileSync(file, 'utf8').split('\n')) if (line.trim()) { const r = JSON.parse(line) as Scored; out.set(r.key, r); }
  return out;
}

async function score(spec: JobSpec, split: Split, seeds: number[]): Promise<{ aucs: number[][]; loglosses: number[][] }> {
  const aucs: number[][] = [];
  const loglosses: number[][] = [];
  for (const seed of seeds) {
    const r = await trainRun(withSeed(spec, seed), split.train, split.valid);
    aucs.push(r.epochs.map((e) => e.auc));
    loglosses.push(r.epochs.map((e) => e.logloss));
  }
  return { aucs, loglosses };
}

/** The AUC a challenger must gain over the incoming setting to replace it (about 3 seeds' noise). */
const DEFAULT_MARGIN = 0.002;

/** A candidate's score in a stage; `incumbent` marks the value the stage started from. */
export interface StageScore {
  label: string;
  auc: number;
  incumbent: boolean;
}

/**
 * The candidate a stage keeps: the incumbent unless the best other beats its mean AUC by more
 * than `margin` (a gain within the seeds' noise changes nothing); with no incumbent, the best.
 */
export function stageWinner<T extends StageScore>(scored: readonly T[], margin: number): T {
  const top = scored.reduce((a, b) => (b.auc > a.auc ? b : a));
  const incumbent = scored.find((s) => s.incumbent);
  return incumbent && top.auc - incumbent.auc <= margin ? incumbent : top;
}

/**
 * Runs a stage and returns the spec to keep: the incoming spec (`best`, when the stage tries its
 * value) unless another candidate's best mean AUC beats it by more than `margin`; in a stage
 * without the incoming value, the candidate with the best mean AUC.
 */
async function runStage(stage: Stage, best: JobSpec, split: Split, seeds: number[], results: Map<string, Scored>, file: string, margin: number): Promise<JobSpec> {
  const keyOf = (spec: JobSpec): string => JSON.stringify({ ...spec, name: '' }) + JSON.stringify(seeds);
  const scored: Array<{ spec: JobSpec; label: string; auc: number; epoch: number; incumbent: boolean }> = [];
  for (const c of stage.candidates) {
    const spec = respec(best, `${stage.name}: ${c.label}`, c.edit);
    const key = keyOf(spec);
    let r = results.get(key);
    if (!r) {
      r = { key, stage: stage.name, label: c.label, ...(await score(spec, split, seeds)) };
      results.set(key, r);
      appendFileSync(file, `${JSON.stringify(r)}\n`);
    }
    const b = bestEpoch(r.aucs);
    process.stderr.write(`${stage.name}: ${c.label.padEnd(22)} AUC ${b.auc.toFixed(4)} ± ${b.sd.toFixed(4)} at ${b.epoch} epochs\n`);
    scored.push({ spec, label: c.label, auc: b.auc, epoch: b.epoch, incumbent: key === keyOf(best) });
  }
  const winner = stageWinner(scored, margin);
  process.stderr.write(`${stage.name}: keeping ${winner.label} (AUC ${winner.auc.toFixed(4)} at ${winner.epoch} epochs)\n`);
  return winner.spec;
}

/**
 * The table of runs (markdown): per candidate, validation AUC mean ± sd over seeds after each
 * epoch, and the mean LogLoss at its best epoch; in the order the runs were made.
 */
export function runsTable(runs: Iterable<Scored>): string {
  const all = [...runs];
  const epochs = Math.max(0, ...all.map((r) => r.aucs[0]?.length ?? 0));
  const head = Array.from({ length: epochs }, (_, e) => `AUC epoch ${e + 1}`);
  const lines = [`| stage | candidate | ${head.join(' | ')} | LogLoss at best |`, `|---|---|${'---|'.repeat(epochs)}---|`];
  for (const r of all) {
    const cells = Array.from({ length: epochs }, (_, e) => (e < r.aucs[0].length ? formatSpread(spread(r.aucs.map((a) => a[e]))) : ''));
    const best = bestEpoch(r.aucs).epoch - 1;
    lines.push(`| ${r.stage} | ${r.label} | ${cells.join(' | ')} | ${spread(r.loglosses.map((l) => l[best])).mean.toFixed(4)} |`);
  }
  return lines.join('\n');
}

/** `stage` with only the candidates labelled in `labels`, when it has any of them. */
function onlyLabels(stage: Stage, labels: string[]): Stage {
  const kept = stage.candidates.filter((c) => labels.includes(c.label));
  return kept.length === 0 ? stage : { ...stage, candidates: kept };
}

async function main(): Promise<void> {
  const dataset = arg('dataset', 'criteo');
  if (dataset !== 'criteo' && dataset !== 'avazu') throw new Error(`--dataset must be criteo or avazu, got "${dataset}"`);
  const seeds = arg('seeds', '1,2,3').split(',').map(Number);
  const epochs = Number(arg('epochs', '4'));
  const margin = Number(arg('margin', String(DEFAULT_MARGIN)));
  const wanted = arg('stages', '').split(',').map((s) => s.trim()).filter(Boolean);
  const labels = arg('candidates', '').split(',').map((s) => s.trim()).filter(Boolean);
  const stages = (wanted.length === 0 ? SEARCH_STAGES : SEARCH_STAGES.filter((s) => wanted.includes(s.name))).map((s) => onlyLabels(s, labels));
  const file = path.resolve(arg('results', `quality-search-${dataset}.jsonl`));
  await selectBackend(silentLogger(), 'wasm');
  const work = mkdtempSync(path.join(os.tmpdir(), 'tessera-search-'));
  try {
    const sizes = { train: 6000, valid: 2000 };
    const dataDir = path.resolve(arg('data-dir', DEFAULT_DATA_DIR));
    const split = dataset === 'criteo' ? criteoSplit(dataDir, work, sizes) : avazuSplit(dataDir, work, sizes);
    if (typeof split === 'string') throw new Error(split);
    const example = loadJobSpec(path.join(REPO_ROOT, 'examples', `${dataset}-deepfm.yaml`));
    let best = respec(example, `epochs ${epochs}`, (p) => { p.training.epochs = epochs; });
    const results = loadResults(file);
    for (const stage of stages) best = await runStage(stage, best, split, seeds, results, file, margin);
    process.stdout.write(`${runsTable(results.values())}\n`);
    process.stderr.write(`chosen: ${JSON.stringify({ tables: best.features.tables[0], model: best.model, training: best.training })}\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`bench:quality-search failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
