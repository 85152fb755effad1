/**
 * bench:train — end-to-end training throughput and quality of one Tessera worker against two
 * PS processes, beside the PyTorch DeepFM peer trained on the same files in the same run.
 *
 *   npm run bench:train -- [--json] [--rows N=200000] [--epochs E=1] [--eval-rows N=20000]
 *                          [--threads T=2] [--workers-only] [--data FILE --eval FILE]
 *                          [--backend tensorflow|wasm|cpu] [--keep]
 *
 * Setup: `tessera gen` writes N synthetic Criteo-format rows (seed 7) and a 20,000-row eval
 * split, and reports its planted model's (oracle) AUC; two `tessera ps` processes; one
 * `tessera train` worker process; DeepFM, 26 categorical fields sharing one table of dim 16,
 * 13 numeric fields (log), MLP 400-400, batch 1024, Adagrad embeddings, Adam dense weights.
 * Then `../shared/peers/torch_deepfm.py` (PyTorch, sparse embeddings, batch 256) on the same
 * train / eval files with the same epochs and T threads.
 *
 * --workers-only   run only the Tessera side (no torch peer; its figures are null).
 * --data/--eval    bench on existing Criteo-format files instead of generating (no oracle).
 * --backend        passed to `tessera train --backend` (tfjs backend to prefer).
 * --keep           keep the temporary folder (data, job spec, PS logs, model) and print it.
 *
 * With --json the last stdout line is
 * `{"bench":"train","samples_per_s","auc","logloss","torch_samples_per_s","torch_auc",
 *   "torch_logloss","oracle_auc","backend",...}`; oracle_auc is the planted model's AUC on the eval
 * split (gen's eval_oracle_auc; its train-split figure is oracle_train_auc). Progress of the
 * children goes to stderr.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PsProcess, spawnPs, TESSERA_BIN } from '../src/local/ps-process';
import { parseJobSpec } from '../src/spec/job-spec';
import { runTorchPeer, TorchPeerResult } from './peers/torch-peer';
import { TRAIN_BENCH_JOB_YAML } from './bench-job';

/** The job spec the bench trains: 26 fields × dim 16, MLP 400-400, as the PyTorch peer. */

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

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const workersOnly = process.argv.includes('--workers-only');
  const keep = process.argv.includes('--keep');
  const rows = intArg('rows', 200_000, 1);
  const evalRows = intArg('eval-rows', EVAL_ROWS, 1);
  const epochs = intArg('epochs', 1, 1);
  const threads = intArg('threads', 2, 1);
  const givenData = arg('data', '');
  const givenEval = arg('eval', '');
  const backendArg = arg('backend', '');
  if ((givenData === '') !== (givenEval === '')) throw new Error('--data and --eval go together');

  const tmp = mkdtempSync(path.join(os.tmpdir(), 'tessera-train-bench-'));
  try {
    // 1. Data: generated with the real CLI, or given.
    let train = path.resolve(givenData);
    let evalFile = path.resolve(givenEval);
    let oracleAuc: number | null = null;
    let oracleTrainAuc: number | null = null;
    let genRows: number | null = null;
    if (givenData === '') {
      train = path.join(tmp, 'train.tsv');
      evalFile = path.join(tmp, 'eval.tsv');
      const gen = await runTessera('gen', ['gen', '--rows', String(rows), '--out', train, '--eval-rows', String(evalRows),
        '--eval-out', evalFile, '--seed', String(GEN_SEED), '--json']);
      // The AUCs below are measured on the eval split, so its oracle is the ceiling to compare with.
      oracleAuc = num(gen.summary.eval_oracle_auc) ?? num(gen.summary.oracle_auc);
      oracleTrainAuc = num(gen.summary.oracle_auc);
      genRows = num(gen.summary.rows);
      process.stderr.write(`gen: ${rows} train + ${evalRows} eval rows in ${gen.seconds.toFixed(1)} s, oracle AUC ${fmt(oracleAuc)} (eval)\n`);
    }

    // 2. Job spec, validated here so a schema change fails before any process starts.
    const jobFile = path.join(tmp, 'train-bench.yaml');
    writeFileSync(jobFile, TRAIN_BENCH_JOB_YAML);
    parseJobSpec(TRAIN_BENCH_JOB_YAML, jobFile);

    // 3. Two PS processes and one worker.
    const started = await Promise.allSettled([0, 1].map((i) =>
      spawnPs({ args: ['--id', `ps-${i}`, '--log-level', 'warn'], logFile: path.join(tmp, `ps-${i}.log`) })));
    const ps = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    let trainOut: { summary: Record<string, unknown>; seconds: number };
    try {
      const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed) throw failed.reason;
      trainOut = await runTessera('train', ['train', '--job', jobFile, '--data', train, '--eval', evalFile,
        '--epochs', String(epochs), '--ps', ps.map((p) => p.addr).join(','), '--out', path.join(tmp, 'model'),
        ...(backendArg !== '' ? ['--backend', backendArg] : []), '--json']);
    } finally {
      await stopAll(ps);
    }
    const t = trainOut.summary;
    const samplesPerS = num(t.samples_per_s);
    const auc = num(t.auc);
    const logloss = num(t.logloss);
    const backend = typeof t.backend === 'string' ? t.backend : null;

    // 4. The peer, on the same files, epochs and cores.
    let torch: TorchPeerResult | undefined;
    if (!workersOnly) torch = await runTorchPeer({ train, test: evalFile, epochs, threads });
    const peer = torch !== undefined && !('skipped' in torch) ? torch : undefined;

    const lines = [
      `setup: ${givenData === '' ? `tessera gen ${rows} rows (seed ${GEN_SEED}), eval ${evalRows} rows` : `data ${train}, eval ${evalFile}`}; `
        + `2 PS + 1 worker process; DeepFM 26 fields × dim 16 (one table), MLP 400-400, batch 1024; ${epochs} epoch(s); ${os.cpus().length} cores`,
      `tessera: ${fmt(samplesPerS, 0)} samples/s   AUC ${fmt(auc)}   logloss ${fmt(logloss)}   backend ${backend ?? 'n/a'}   (process wall ${trainOut.seconds.toFixed(1)} s)`,
      torch === undefined ? 'torch peer: not run (--workers-only)'
        : 'skipped' in torch ? `torch peer: skipped (${torch.skipped})`
          : `torch peer (${threads} threads, batch 256): ${fmt(torch.samplesPerS, 0)} samples/s   AUC ${fmt(torch.auc)}   logloss ${fmt(torch.logloss)}`
            + (samplesPerS !== null ? `  → tessera is ${(samplesPerS / torch.samplesPerS).toFixed(2)}× its throughput` : ''),
      `oracle (planted model) AUC on the eval split: ${fmt(oracleAuc)}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    if (keep) process.stdout.write(`kept ${tmp}\n`);

    const summary = {
      bench: 'train',
      samples_per_s: samplesPerS === null ? null : Math.round(samplesPerS),
      auc,
      logloss,
      torch_samples_per_s: peer ? Math.round(peer.samplesPerS) : null,
      torch_auc: peer ? num(peer.auc) : null,
      torch_logloss: peer ? num(peer.logloss) : null,
      torch_skipped: torch !== undefined && 'skipped' in torch ? torch.skipped : null,
      oracle_auc: oracleAuc,
      oracle_train_auc: oracleTrainAuc,
      backend,
      samples: num(t.samples),
      rows: genRows ?? null,
      eval_rows: givenData === '' ? evalRows : null,
      epochs,
      torch_threads: workersOnly ? null : threads,
      train_wall_s: Number(trainOut.seconds.toFixed(2)),
    };
    if (json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  } finally {
    if (!keep) rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : err}\n`);
  process.exit(1);
});
