/**
 * bench:train — end-to-end training throughput and quality of one Tessera worker against two
 * PS processes, beside the PyTorch DeepFM peer trained on the same files in the same run.
 *
 *   npm run bench:train -- [--json] [--rows N=200000] [--epochs E=1] [--eval-rows N=20000]
 *                          [--threads T=2] [--batch B=1024] [--wire f32,f16] [--data-thread] [--workers-only]
 *                          [--data FILE --eval FILE] [--backend tensorflow|wasm|cpu] [--keep]
 *
 * Setup: `tessera gen` writes N synthetic Criteo-format rows (seed 7) and a 20,000-row eval
 * split, and reports its planted model's (oracle) AUC; two `tessera ps` processes; one
 * `tessera train` worker process; DeepFM, 26 categorical fields sharing one table of dim 16,
 * 13 numeric fields (log), MLP 400-400, batch B, Adagrad embeddings, Adam dense weights.
 * Then `../shared/peers/torch_deepfm.py` (PyTorch, sparse embeddings) on the same train / eval
 * files with the same epochs and T threads, twice: at batch B (the like-for-like comparison:
 * both sides do the same number of steps) and at its own best batch, 256.
 *
 * --wire           the job's `training.wire_encoding`s to train with, in order (default f32,f16:
 *                  one Tessera run each; the first is the headline figure).
 * --data-thread    passed to `tessera train`: the worker's data path on a thread of its own.
 * --workers-only   run only the Tessera side (no torch peer; its figures are null).
 * --data/--eval    bench on existing Criteo-format files instead of generating (no oracle).
 * --backend        passed to `tessera train --backend` (tfjs backend to prefer).
 * --keep           keep the temporary folder (data, job spec, PS logs, model) and print it.
 *
 * With --json the last stdout line is
 * `{"bench":"train","batch","samples_per_s","auc","logloss","torch_batch","torch_samples_per_s",
 *   "torch_auc","torch_logloss","ratio_equal_batch","torch_best_batch","torch_best_samples_per_s",
 *   "torch_best_auc","ratio_best_batch","wire_encoding","f16_samples_per_s","f16_auc",
 *   "f16_logloss","f16_ratio_equal_batch","cpu_us_per_sample","oracle_auc","backend",...}`: the unprefixed Tessera
 * figures are the first --wire encoding's (`wire_encoding`), `<wire>_*` the others'; `torch_*` is the peer at
 * Tessera's batch (`torch_batch` = `batch`), `torch_best_*` the peer at 256; the ratios are
 * Tessera's samples/s over the peer's. cpu_us_per_sample is the worker process's CPU per training
 * sample (all its threads, from `tessera train`'s train_cpu_s; the PS processes not counted): the
 * figure to compare between builds on a loaded machine. oracle_auc is the planted model's AUC on the eval split
 * (gen's eval_oracle_auc; its train-split figure is oracle_train_auc). Progress of the children
 * goes to stderr.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PsProcess, spawnPs, TESSERA_BIN } from '../src/local/ps-process';
import { parseJobSpec } from '../src/spec/job-spec';
import { WIRE_ENCODINGS, WireEncoding } from '../src/spec/types';
import { runTorchPeer, TorchPeerResult } from './peers/torch-peer';
import { TRAIN_BENCH_JOB_YAML } from './bench-job';

const EVAL_ROWS = 20_000;
const GEN_SEED = 7;
/** SIGTERM grace for a PS before SIGKILL. */
const PS_STOP_GRACE_MS = 10_000;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

function intArg(name: string, fallback: number, min: number): number {
  const raw = arg(name, String(fallback));
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, got "${raw}"`);
  return n;
}

/**
 * Runs `node bin/tessera.js ...args`; stdout lines are echoed to our stderr as they arrive (prefixed
 * with `label`), and the last non-empty stdout line is parsed as the command's JSON summary.
 */
function runTessera(label: string, args: string[]): Promise<{ summary: Record<string, unknown>; seconds: number }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, [TESSERA_BIN, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    let last = '';
    const take = (line: string): void => {
      if (line.trim() === '') return;
      last = line;
      process.stderr.write(`[${label}] ${line}\n`);
    };
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        take(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      take(buf);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const cmd = `tessera ${args.join(' ')}`;
      if (code !== 0) return reject(new Error(`${cmd} exited (code ${code}, signal ${signal})`));
      try {
        const summary = JSON.parse(last) as unknown;
        if (summary === null || typeof summary !== 'object' || Array.isArray(summary)) throw new Error('not an object');
        resolve({ summary: summary as Record<string, unknown>, seconds });
      } catch (e) {
        reject(new Error(`${cmd}: last stdout line is not a JSON object (${(e as Error).message}): ${last}`));
      }
    });
  });
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** CPU seconds over samples, in µs per sample (2 decimals); null when either is missing. */
function perSampleUs(cpuS: number | null, samples: number | null): number | null {
  return cpuS === null || !samples ? null : Number(((cpuS * 1e6) / samples).toFixed(2));
}

function fmt(v: number | null, digits = 4): string {
  return v === null ? 'n/a' : v.toFixed(digits);
}

async function stopAll(ps: PsProcess[]): Promise<void> {
  await Promise.all(ps.map(async (p) => {
    const timer = setTimeout(() => p.proc.kill('SIGKILL'), PS_STOP_GRACE_MS);
    try {
      await p.stop();
    } finally {
      clearTimeout(timer);
    }
  }));
}

/** The peer's own batch size (its default, the one its learning rates are tuned for), run beside the equal-batch comparison. */
const PEER_BEST_BATCH = 256;

/** One peer run at a batch size: its figures, or why it was skipped. */
interface PeerRun { batch: number; result: TorchPeerResult }

function peerFigures(run: PeerRun | undefined): { samplesPerS: number; auc: number; logloss: number } | undefined {
  return run !== undefined && !('skipped' in run.result) ? run.result : undefined;
}

function peerLine(run: PeerRun, threads: number, samplesPerS: number | null): string {
  const r = run.result;
  if ('skipped' in r) return `torch peer (batch ${run.batch}): skipped (${r.skipped})`;
  return `torch peer (${threads} threads, batch ${run.batch}): ${fmt(r.samplesPerS, 0)} samples/s   AUC ${fmt(r.auc)}   logloss ${fmt(r.logloss)}`
    + (samplesPerS !== null ? `  → tessera is ${(samplesPerS / r.samplesPerS).toFixed(2)}× its throughput` : '');
}

function ratio(samplesPerS: number | null, peer: { samplesPerS: number } | undefined): number | null {
  return samplesPerS === null || peer === undefined ? null : Number((samplesPerS / peer.samplesPerS).toFixed(3));
}

/** Bench options from the command line. */
interface BenchOptions {
  json: boolean; workersOnly: boolean; keep: boolean; rows: number; evalRows: number; epochs: number; threads: number;
  batch: number; givenData: string; givenEval: string; backendArg: string; wire: WireEncoding[]; dataThread: boolean;
}

function wireList(raw: string): WireEncoding[] {
  const list = raw.split(',').map((w) => w.trim());
  const bad = list.find((w) => !(WIRE_ENCODINGS as readonly string[]).includes(w));
  if (bad !== undefined || list.length === 0) throw new Error(`--wire takes a comma-separated list of ${WIRE_ENCODINGS.join(', ')}; got "${raw}"`);
  return [...new Set(list)] as WireEncoding[];
}

function benchOptions(): BenchOptions {
  const o: BenchOptions = {
    json: process.argv.includes('--json'),
    workersOnly: process.argv.includes('--workers-only'),
    keep: process.argv.includes('--keep'),
    rows: intArg('rows', 200_000, 1),
    evalRows: intArg('eval-rows', EVAL_ROWS, 1),
    epochs: intArg('epochs', 1, 1),
    threads: intArg('threads', 2, 1),
    batch: intArg('batch', 1024, 1),
    givenData: arg('data', ''),
    givenEval: arg('eval', ''),
    backendArg: arg('backend', ''),
    wire: wireList(arg('wire', WIRE_ENCODINGS.join(','))),
    dataThread: process.argv.includes('--data-thread'),
  };
  if ((o.givenData === '') !== (o.givenEval === '')) throw new Error('--data and --eval go together');
  return o;
}

/** The data the bench trains on: generated with the real CLI (with its oracle AUC), or given. */
interface BenchData { train: string; evalFile: string; oracleAuc: number | null; oracleTrainAuc: number | null; genRows: number | null }

async function benchData(o: BenchOptions, tmp: string): Promise<BenchData> {
  if (o.givenData !== '') {
    return { train: path.resolve(o.givenData), evalFile: path.resolve(o.givenEval), oracleAuc: null, oracleTrainAuc: null, genRows: null };
  }
  const train = path.join(tmp, 'train.tsv');
  const evalFile = path.join(tmp, 'eval.tsv');
  const gen = await runTessera('gen', ['gen', '--rows', String(o.rows), '--out', train, '--eval-rows', String(o.evalRows),
    '--eval-out', evalFile, '--seed', String(GEN_SEED), '--json']);
  // The AUCs below are measured on the eval split, so its oracle is the ceiling to compare with.
  const oracleAuc = num(gen.summary.eval_oracle_auc) ?? num(gen.summary.oracle_auc);
  process.stderr.write(`gen: ${o.rows} train + ${o.evalRows} eval rows in ${gen.seconds.toFixed(1)} s, oracle AUC ${fmt(oracleAuc)} (eval)\n`);
  return { train, evalFile, oracleAuc, oracleTrainAuc: num(gen.summary.oracle_auc), genRows: num(gen.summary.rows) };
}

/** Two PS processes and one `tessera train` worker process on `jobFile`; the worker's JSON summary. */
async function trainTessera(o: BenchOptions, tmp: string, data: BenchData, jobFile: string, label: string) {
  const started = await Promise.allSettled([0, 1].map((i) =>
    spawnPs({ args: ['--id', `ps-${i}`, '--log-level', 'warn'], logFile: path.join(tmp, `${label}-ps-${i}.log`) })));
  const ps = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  try {
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    return await runTessera('train', ['train', '--job', jobFile, '--data', data.train, '--eval', data.evalFile,
      '--epochs', String(o.epochs), '--ps', ps.map((p) => p.addr).join(','), '--out', path.join(tmp, `model-${label}`),
      ...(o.backendArg !== '' ? ['--backend', o.backendArg] : []), ...(o.dataThread ? ['--data-thread'] : []), '--json']);
  } finally {
    await stopAll(ps);
  }
}

/** The job spec at the bench's batch size and `wire` encoding, written to `tmp` and validated before any process starts. */
function writeJob(o: BenchOptions, tmp: string, wire: WireEncoding): string {
  const yaml = TRAIN_BENCH_JOB_YAML.replace('batch_size: 1024', `batch_size: ${o.batch}`).replace('seed: 1\n', `seed: 1\n  wire_encoding: ${wire}\n`);
  const jobFile = path.join(tmp, `train-bench-${wire}.yaml`);
  writeFileSync(jobFile, yaml);
  if (parseJobSpec(yaml, jobFile).training.wireEncoding !== wire) throw new Error(`bench job: wire_encoding ${wire} did not take`);
  return jobFile;
}

/** One Tessera run's figures. */
interface TesseraRun {
  wire: WireEncoding; samplesPerS: number | null; auc: number | null; logloss: number | null; backend: string | null; samples: number | null; wallS: number;
  /** The worker process's CPU µs per training sample (all its threads; the PS processes' not counted). */
  cpuUsPerSample: number | null;
}

async function runTesseraSide(o: BenchOptions, tmp: string, data: BenchData, wire: WireEncoding): Promise<TesseraRun> {
  const out = await trainTessera(o, tmp, data, writeJob(o, tmp, wire), wire);
  const t = out.summary;
  return {
    wire, samplesPerS: num(t.samples_per_s), auc: num(t.auc), logloss: num(t.logloss),
    backend: typeof t.backend === 'string' ? t.backend : null, samples: num(t.samples), wallS: Number(out.seconds.toFixed(2)),
    cpuUsPerSample: perSampleUs(num(t.train_cpu_s), num(t.samples)),
  };
}

function tesseraLine(o: BenchOptions, r: TesseraRun): string {
  return `tessera (batch ${o.batch}, wire ${r.wire}): ${fmt(r.samplesPerS, 0)} samples/s   AUC ${fmt(r.auc)}   logloss ${fmt(r.logloss)}`
    + `   worker CPU ${fmt(r.cpuUsPerSample, 1)} µs/sample`
    + `   backend ${r.backend ?? 'n/a'}   (process wall ${r.wallS.toFixed(1)} s)`;
}

/** The JSON figures of the runs after the first: `<wire>_samples_per_s`, `<wire>_auc`, ... */
function otherWireFigures(runs: TesseraRun[], equal: { samplesPerS: number } | undefined): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const r of runs.slice(1)) {
    out[`${r.wire}_samples_per_s`] = r.samplesPerS === null ? null : Math.round(r.samplesPerS);
    out[`${r.wire}_auc`] = r.auc;
    out[`${r.wire}_logloss`] = r.logloss;
    out[`${r.wire}_ratio_equal_batch`] = ratio(r.samplesPerS, equal);
    out[`${r.wire}_cpu_us_per_sample`] = r.cpuUsPerSample;
  }
  return out;
}

async function main(): Promise<void> {
  const o = benchOptions();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'tessera-train-bench-'));
  try {
    const data = await benchData(o, tmp);
    const runs: TesseraRun[] = [];
    for (const wire of o.wire) runs.push(await runTesseraSide(o, tmp, data, wire));
    const first = runs[0];

    // The peer on the same files, epochs and cores: at Tessera's batch size (the comparison that
    // counts) and at its own batch size beside it.
    const peerBatches = o.workersOnly ? [] : [...new Set([o.batch, PEER_BEST_BATCH])];
    const peers: PeerRun[] = [];
    for (const batch of peerBatches) {
      peers.push({ batch, result: await runTorchPeer({ train: data.train, test: data.evalFile, epochs: o.epochs, threads: o.threads, batch }) });
    }
    const equal = peerFigures(peers.find((p) => p.batch === o.batch));
    const best = peerFigures(peers.find((p) => p.batch === PEER_BEST_BATCH));

    const lines = [
      `setup: ${o.givenData === '' ? `tessera gen ${o.rows} rows (seed ${GEN_SEED}), eval ${o.evalRows} rows` : `data ${data.train}, eval ${data.evalFile}`}; `
        + `2 PS + 1 worker process; DeepFM 26 fields × dim 16 (one table), MLP 400-400, batch ${o.batch}; ${o.epochs} epoch(s); ${os.cpus().length} cores`,
      ...runs.map((r) => tesseraLine(o, r)),
      ...(o.workersOnly ? ['torch peer: not run (--workers-only)'] : peers.map((p) => peerLine(p, o.threads, first.samplesPerS))),
      `oracle (planted model) AUC on the eval split: ${fmt(data.oracleAuc)}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    if (o.keep) process.stdout.write(`kept ${tmp}\n`);

    const skipped = peers.map((p) => p.result).find((r): r is { skipped: string } => 'skipped' in r);
    const summary = {
      bench: 'train',
      batch: o.batch,
      wire_encoding: first.wire,
      samples_per_s: first.samplesPerS === null ? null : Math.round(first.samplesPerS),
      auc: first.auc,
      logloss: first.logloss,
      cpu_us_per_sample: first.cpuUsPerSample,
      ...otherWireFigures(runs, equal),
      torch_batch: o.workersOnly ? null : o.batch,
      torch_samples_per_s: equal ? Math.round(equal.samplesPerS) : null,
      torch_auc: equal ? num(equal.auc) : null,
      torch_logloss: equal ? num(equal.logloss) : null,
      ratio_equal_batch: ratio(first.samplesPerS, equal),
      torch_best_batch: o.workersOnly ? null : PEER_BEST_BATCH,
      torch_best_samples_per_s: best ? Math.round(best.samplesPerS) : null,
      torch_best_auc: best ? num(best.auc) : null,
      ratio_best_batch: ratio(first.samplesPerS, best),
      torch_skipped: skipped ? skipped.skipped : null,
      oracle_auc: data.oracleAuc,
      oracle_train_auc: data.oracleTrainAuc,
      backend: first.backend,
      data_thread: o.dataThread,
      samples: first.samples,
      rows: data.genRows,
      eval_rows: o.givenData === '' ? o.evalRows : null,
      epochs: o.epochs,
      torch_threads: o.workersOnly ? null : o.threads,
      train_wall_s: first.wallS,
    };
    if (o.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  } finally {
    if (!o.keep) rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : err}\n`);
  process.exit(1);
});
