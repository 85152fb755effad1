/**
 * bench:quality — the validation AUC and LogLoss of Tessera's models beside the PyTorch DeepFM
 * peer (`../shared/peers/torch_deepfm.py`), trained on the same splits in the same run:
 *
 * - per dataset (Criteo, Avazu, `tessera gen` synthetic rows, `tessera gen --history` planted
 *   user histories; see quality/datasets.ts), LR, FM, DeepFM, Wide&Deep, DCN and DIN from the
 *   shipped example of that dataset (model kind switched; DIN only where the example attends over
 *   a list, which the other models sum-pool), each over several seeds (mean ± sd, min, max), and
 *   the peer's DeepFM on the same rows;
 * - the cost of asynchrony: the Criteo example on `tessera local` with 1 worker against 4
 *   asynchronous workers (separate processes), same seeds (target: at most 0.002 AUC);
 * - f32 against f16 table weights (Criteo DeepFM, same seeds).
 *
 *   npm run bench:quality -- --json    (flags: quality/options.ts, or any bad flag prints them)
 *
 * The peer fixes its own seed, so it runs once per dataset. Without the peer script or its
 * Python packages the peer is skipped with the reason, and every Tessera figure still comes.
 * With --json the last stdout line is `{"bench":"quality", ...}`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { silentLogger } from '../src/common/logger';
import { selectBackend } from '../src/model/backend';
import { loadJobSpec } from '../src/spec/job-spec';
import type { JobSpec, ModelKind } from '../src/spec/types';
import { runTorchPeer } from './peers/torch-peer';
import { clusterRun } from './quality/cluster-run';
import { avazuSplit, criteoSplit, sequenceSplit, Split, syntheticSplit } from './quality/datasets';
import { DatasetName, parseQualityOptions, QualityOptions } from './quality/options';
import { asModel, modelMisfit, respec, withF16, withSeed } from './quality/spec-variants';
import { formatSpread, Spread, spread } from './quality/spread';
import { trainRun } from './quality/train-run';

const REPO_ROOT = path.resolve(__dirname, '..', __dirname.includes(`${path.sep}dist${path.sep}`) ? '..' : '');
/** The shipped example each dataset's models start from. */
const EXAMPLE: Readonly<Record<DatasetName, string>> = {
  criteo: 'criteo-deepfm.yaml', avazu: 'avazu-deepfm.yaml', synthetic: 'synthetic-deepfm.yaml', sequence: 'synthetic-din.yaml',
};
/** Seed of the synthetic and sequence rows (the teacher and the data; the model seeds vary separately). */
const SYNTHETIC_DATA_SEED = 7;
/** The target of the asynchrony comparison (issue #21). */
const ASYNC_TARGET_AUC = 0.002;
/** Threads the peer uses (torch.set_num_threads): the cores of this machine class. */
const PEER_THREADS = 2;

/** AUC and LogLoss of one model over the seeds. */
interface ModelFigures {
  auc: Spread;
  logloss: Spread;
  /** Epochs trained per seed (fewer than asked when early stopping ended a run). */
  epochs: number[];
}

interface DatasetReport {
  train_rows: number;
  valid_rows: number;
  oracle_auc: number | null;
  peer: { auc: number; logloss: number; samples_per_s: number } | null;
  peer_skipped?: string;
  models: Partial<Record<ModelKind, ModelFigures>>;
  /** Models the dataset's example cannot train, with the reason. */
  models_skipped?: Partial<Record<ModelKind, string>>;
}

function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** The example of `name` with the run's epoch override. */
function baseSpec(name: DatasetName, o: QualityOptions): JobSpec {
  const spec = loadJobSpec(path.join(REPO_ROOT, 'examples', EXAMPLE[name]));
  return o.epochs === undefined ? spec : respec(spec, `epochs ${o.epochs}`, (p) => { p.training.epochs = o.epochs; });
}

/** Trains `spec` once per seed on `split`; logs each run. */
export async function overSeeds(label: string, spec: JobSpec, split: Split, seeds: readonly number[]): Promise<ModelFigures> {
  const runs = [];
  for (const seed of seeds) {
    const r = await trainRun(withSeed(spec, seed), split.train, split.valid);
    say(`  ${label} seed ${seed}: AUC ${r.auc.toFixed(4)}  LogLoss ${r.logloss.toFixed(4)}  (${r.epochs.length} epochs, ${(r.samples / r.trainSeconds).toFixed(0)} samples/s)`);
    runs.push(r);
  }
  return { auc: spread(runs.map((r) => r.auc)), logloss: spread(runs.map((r) => r.logloss)), epochs: runs.map((r) => r.epochs.length) };
}

async function datasetReport(name: DatasetName, split: Split, o: QualityOptions): Promise<DatasetReport> {
  const base = baseSpec(name, o);
  const sizes = splitSizes(name, o);
  const report: DatasetReport = { train_rows: sizes.train, valid_rows: sizes.valid, oracle_auc: split.oracleAuc ?? null, peer: null, models: {} };
  say(`${name}: ${report.train_rows} train / ${report.valid_rows} validation rows${split.oracleAuc === undefined ? '' : `, planted teacher's AUC ${split.oracleAuc.toFixed(4)}`}`);
  for (const kind of o.models) {
    const misfit = modelMisfit(base, kind);
    if (misfit === undefined) report.models[kind] = await overSeeds(`${name} ${kind}`, asModel(base, kind), split, o.seeds);
    else {
      (report.models_skipped ??= {})[kind] = misfit;
      say(`  ${name} ${kind} skipped: ${misfit}`);
    }
  }
  if (o.peer) {
    const r = await runTorchPeer({ train: split.peerTrain, test: split.peerValid, epochs: o.peerEpochs, threads: PEER_THREADS });
    if ('skipped' in r) say(`  peer skipped: ${report.peer_skipped = r.skipped}`);
    else {
      report.peer = { auc: r.auc, logloss: r.logloss, samples_per_s: r.samplesPerS };
      say(`  peer (PyTorch DeepFM, ${o.peerEpochs} epochs): AUC ${r.auc.toFixed(4)}  LogLoss ${r.logloss.toFixed(4)}`);
    }
  }
  for (const [kind, f] of Object.entries(report.models)) {
    const gap = report.peer ? `  (${(f.auc.mean - report.peer.auc >= 0 ? '+' : '')}${(f.auc.mean - report.peer.auc).toFixed(4)} vs peer)` : '';
    say(`  ${name} ${kind.padEnd(8)} AUC ${formatSpread(f.auc)}  LogLoss ${formatSpread(f.logloss)}${gap}`);
  }
  return report;
}

/** 1 worker against `o.workers` asynchronous workers, each a `tessera local` run per seed. */
async function asyncReport(split: Split, o: QualityOptions, work: string) {
  const base = baseSpec('criteo', o);
  const one: number[] = [];
  const many: number[] = [];
  for (const seed of o.seeds) {
    const spec = withSeed(base, seed);
    one.push((await clusterRun(spec, 1, split.train, split.valid, work)).auc);
    many.push((await clusterRun(spec, o.workers, split.train, split.valid, work)).auc);
    say(`  asynchrony seed ${seed}: 1 worker AUC ${one[one.length - 1].toFixed(4)}, ${o.workers} workers AUC ${many[many.length - 1].toFixed(4)}`);
  }
  const cost = spread(one.map((a, i) => a - many[i]));
  say(`  asynchrony: ${o.workers} workers cost ${formatSpread(cost)} AUC against 1 (target <= ${ASYNC_TARGET_AUC})`);
  return { workers: o.workers, auc_1w: spread(one), auc_nw: spread(many), auc_cost: cost, target: ASYNC_TARGET_AUC };
}

/** f16 table weights against f32, Criteo DeepFM, same seeds. */
async function f16Report(split: Split, o: QualityOptions, f32?: ModelFigures) {
  const base = asModel(baseSpec('criteo', o), 'deepfm');
  const f16 = await overSeeds('criteo deepfm f16', withF16(base), split, o.seeds);
  const ref = f32 ?? await overSeeds('criteo deepfm f32', base, split, o.seeds);
  const diff = spread(ref.auc.values.map((a, i) => a - f16.auc.values[i]));
  say(`  f16 tables: AUC ${formatSpread(f16.auc)} against f32 ${formatSpread(ref.auc)} (f32 − f16 ${formatSpread(diff)})`);
  return { auc_f32: ref.auc, auc_f16: f16.auc, logloss_f16: f16.logloss, auc_f32_minus_f16: diff };
}

/** Train and validation rows of dataset `name`. */
function splitSizes(name: DatasetName, o: QualityOptions): { train: number; valid: number } {
  if (name === 'synthetic') return { train: o.syntheticTrain, valid: o.syntheticValid };
  if (name === 'sequence') return { train: o.sequenceTrain, valid: o.sequenceValid };
  return { train: o.trainRows, valid: o.validRows };
}

async function split(name: DatasetName, o: QualityOptions, work: string): Promise<Split | string> {
  const sizes = splitSizes(name, o);
  if (name === 'criteo') return criteoSplit(o.dataDir, work, sizes);
  if (name === 'avazu') return avazuSplit(o.dataDir, work, sizes);
  if (name === 'sequence') return sequenceSplit(work, sizes, SYNTHETIC_DATA_SEED);
  return syntheticSplit(work, sizes, SYNTHETIC_DATA_SEED);
}

async function main(): Promise<void> {
  const o = parseQualityOptions(process.argv.slice(2));
  const started = performance.now();
  const backend = await selectBackend(silentLogger());
  const work = mkdtempSync(path.join(os.tmpdir(), 'tessera-quality-'));
  const out: Record<string, unknown> = { bench: 'quality', seeds: o.seeds, backend: backend.name, datasets: {} };
  const datasets = out.datasets as Record<string, DatasetReport | { skipped: string }>;
  try {
    let criteo: Split | undefined;
    for (const name of o.datasets) {
      const s = await split(name, o, work);
      if (typeof s === 'string') {
        say(`${name} skipped: ${s}`);
        datasets[name] = { skipped: s };
        continue;
      }
      if (name === 'criteo') criteo = s;
      const r = datasets[name] = await datasetReport(name, s, o);
      for (const [kind, f] of Object.entries(r.models)) out[`${name}_${kind}_auc`] = f.auc.mean;
      out[`${name}_peer_auc`] = r.peer?.auc ?? null;
    }
    if (criteo && o.workers > 0) out.async = await asyncReport(criteo, o, work);
    if (criteo && o.f16) out.f16 = await f16Report(criteo, o, (datasets.criteo as DatasetReport).models.deepfm);
    out.seconds = (performance.now() - started) / 1000;
    say(`bench:quality done in ${(out.seconds as number).toFixed(0)} s${o.keep ? `; files kept in ${work}` : ''}`);
    if (o.json) process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    if (!o.keep) rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`bench:quality failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
