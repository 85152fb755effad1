/**
 * bench:serve (issue 14, section 6): DeepFM (26 fields × dim 16, MLP 400-400) served by
 * `tessera serve` and driven over HTTP by a closed-loop load generator in its own process
 * (bench/serve-load.ts, undici), at batch 1 and batch 64, beside the ceilings measured in the same
 * run: the same model's in-process predict (no HTTP: feature transform, row lookup, forward) and
 * the PyTorch peer's forward pass on the same batch shapes (bench/torch_serve_forward.py). Then a
 * hot swap under load: a new version is renamed into the model root while 8 clients send batch-1
 * requests; every failed request is counted and the p99 of the requests started during the swap
 * is compared with the steady p99.
 *
 *   npm run bench:serve -- [--json] [--seconds 8] [--rows 20000] [--connections 8] [--torch-threads 2]
 *
 * The model is trained here first (`tessera train --export-dir` on `tessera gen` rows), so its
 * rows and the request values are what a trained model sees. With --json the last stdout line is
 * {"bench": "serve", ...}.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { silentLogger } from '../src/common/logger';
import { generate } from '../src/gen/generate';
import { TESSERA_BIN } from '../src/local/ps-process';
import { selectBackend } from '../src/model/backend';
import { RequestRows } from '../src/serve/request-rows';
import { loadVersion } from '../src/serve/version-loader';
import { argNum } from './bench-args';
import { TRAIN_BENCH_JOB_YAML } from './bench-job';
import { ensureTorchDependencies, TORCH_PYTHON } from './peers/torch-peer';

const MODEL = 'serve-bench';
const REPO = path.resolve(__dirname, '..', '..');
const log = (msg: string): void => { process.stderr.write(`bench:serve: ${msg}\n`); };

/** Percentile of sorted values. */
function pct(sorted: number[], q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

interface LoadResult { requests: number; failures: number; first_failure: string | null; seconds: number; starts: number[]; latencies_ms: number[] }

/** A running load generator: `done` resolves with its figures; `stop()` ends it early. */
interface LoadRun {
  done: Promise<LoadResult>;
  stop(): void;
}

/** Starts the load generator process against `url` with `body` for at most `seconds`. */
function startLoad(url: string, bodyFile: string, connections: number, seconds: number): LoadRun {
  const child = spawn(process.execPath, [path.join(__dirname, 'serve-load.js'), url, bodyFile, String(connections), String(seconds)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const done = new Promise<LoadResult>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => { out += c; });
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(JSON.parse(out) as LoadResult) : reject(new Error(`load generator exited ${code}`))));
  });
  return { done, stop: () => child.stdin.end() };
}

function drive(url: string, bodyFile: string, connections: number, seconds: number): Promise<LoadResult> {
  return startLoad(url, bodyFile, connections, seconds).done;
}

function summary(r: LoadResult, batch: number, connections: number): Record<string, number> {
  const lat = [...r.latencies_ms].sort((a, b) => a - b);
  return { batch, connections, requests: r.requests, failures: r.failures, preds_per_s: (r.requests * batch) / r.seconds, p50_ms: pct(lat, 0.5), p99_ms: pct(lat, 0.99) };
}

/** Trains the bench model and publishes it as version 1; returns the held-out rows for requests. */
async function trainModel(dir: string, rows: number): Promise<string[]> {
  const job = path.join(dir, 'job.yaml');
  fs.writeFileSync(job, TRAIN_BENCH_JOB_YAML.replace('name: train-bench', `name: ${MODEL}`));
  const train = path.join(dir, 'train.tsv');
  const held = path.join(dir, 'eval.tsv');
  await generate({ rows, seed: 11, vocab: 200_000, zipf: 1.1, out: train, evalRows: 2000, evalOut: held });
  log(`training ${MODEL} on ${rows} rows (tessera train --export-dir) …`);
  const t = spawnSync(process.execPath, [TESSERA_BIN, 'train', '--job', job, '--data', train, '--eval', held, '--epochs', '1', '--export-dir', path.join(dir, 'models'), '--json'], { encoding: 'utf8' });
  if (t.status !== 0) throw new Error(`tessera train failed: ${t.stderr.slice(-2000)}`);
  return fs.readFileSync(held, 'utf8').split('\n').filter(Boolean);
}

/** The first line a stream writes. */
function firstLine(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (c: Buffer): void => {
      text += c.toString('utf8');
      const nl = text.indexOf('\n');
      if (nl < 0) return;
      stream.off('data', onData);
      resolve(text.slice(0, nl));
    };
    stream.on('data', onData);
    stream.once('end', () => reject(new Error(`the server ended its output before a line: ${text}`)));
  });
}

/** Starts `tessera serve` as its own process; resolves with its URL once its version is loaded. */
async function startServer(root: string): Promise<{ url: string; backend: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [TESSERA_BIN, 'serve', '--model-root', root, '--port', '0', '--json', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const { rest: url, backend } = JSON.parse(await firstLine(child.stdout)) as { rest: string; backend: string };
  // Joins the first scan: resolves once version 1 is loaded.
  const res = await fetch(`${url}/admin/rescan`, { method: 'POST' });
  if (!res.ok) throw new Error(`server not ready: HTTP ${res.status}`);
  return {
    url, backend,
    stop: () => new Promise((resolve) => {
      child.once('close', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}

/** In-process predict of the same version: preds/s and latency per batch size. */
async function inProcess(root: string, bodies: Map<number, unknown[]>, seconds: number): Promise<Record<string, Record<string, number>>> {
  await selectBackend(silentLogger(), process.env.TESSERA_TF_BACKEND);
  const v = await loadVersion(root, MODEL, 1, undefined, {});
  const out: Record<string, Record<string, number>> = {};
  const decoder = new RequestRows(v.spec, { unknown: 'reject' });
  for (const [batch, instances] of bodies) {
    const rows = decoder.fromInstances(instances).rows;
    for (let i = 0; i < 20; i++) await v.predict(rows);
    const lat: number[] = [];
    const end = performance.now() + seconds * 1000;
    while (performance.now() < end) {
      const t0 = performance.now();
      await v.predict(rows);
      lat.push(performance.now() - t0);
    }
    lat.sort((a, b) => a - b);
    out[`batch_${batch}`] = { batch, preds_per_s: (batch * lat.length) / (lat.reduce((a, b) => a + b, 0) / 1000), p50_ms: pct(lat, 0.5), p99_ms: pct(lat, 0.99) };
  }
  v.retire();
  return out;
}

function torchPeer(threads: number, seconds: number): Record<string, unknown> {
  const missing = ensureTorchDependencies();
  if (missing !== undefined) return { skipped: missing };
  const r = spawnSync(TORCH_PYTHON, [path.join(REPO, 'bench', 'torch_serve_forward.py'), String(threads), String(seconds), '1,64'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`torch forward failed: ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

/** Resolves once the server has version 2 loaded; returns its status entry. */
async function versionLoaded(base: string): Promise<{ version: number; loaded_at: string; load_seconds: number }> {
  for (;;) {
    const status = await (await fetch(`${base}/status`)).json() as { models: { versions: { version: number; loaded_at: string; load_seconds: number }[] }[] };
    const v2 = status.models[0]?.versions.find((v) => v.version === 2);
    if (v2) return v2;
    // A bench, not a test: polling the status every 50 ms is what an operator's script would do.
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The hot swap under load: version 2 (a copy of 1, staged beforehand) is renamed into the root a
 * while into a batch-1 run; the run goes on as long again after the swap. The window is from the
 * rename to the swap (the server's loaded_at).
 */
async function hotSwap(root: string, base: string, url: string, bodyFile: string, connections: number, seconds: number): Promise<Record<string, number | string | null>> {
  const staged = path.join(root, MODEL, '.tmp-bench-v2');
  fs.cpSync(path.join(root, MODEL, '1'), staged, { recursive: true });
  const load = startLoad(url, bodyFile, connections, 600);
  const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  await pause((seconds * 1000) / 2);
  const publishedAt = performance.timeOrigin + performance.now();
  fs.renameSync(staged, path.join(root, MODEL, '2'));
  const v2 = await versionLoaded(base);
  await pause((seconds * 1000) / 2);
  load.stop();
  const r = await load.done;
  const swappedAt = Date.parse(v2.loaded_at);
  const inWindow = (i: number): boolean => r.starts[i] >= publishedAt && r.starts[i] <= swappedAt + 1;
  const during = r.latencies_ms.filter((_, i) => inWindow(i)).sort((a, b) => a - b);
  const outside = r.latencies_ms.filter((_, i) => !inWindow(i)).sort((a, b) => a - b);
  return {
    requests: r.requests, failures: r.failures, first_failure: r.first_failure, window_ms: swappedAt - publishedAt, load_seconds: v2.load_seconds,
    requests_in_window: during.length, p50_in_window_ms: pct(during, 0.5), p99_in_window_ms: pct(during, 0.99), p99_outside_window_ms: pct(outside, 0.99),
  };
}

/** A Criteo line as a request instance: raw values by field name, empty cells left out. */
function toInstance(line: string): Record<string, string | number> {
  const c = line.split('\t');
  const inst: Record<string, string | number> = {};
  for (let i = 1; i <= 13; i++) if (c[i] !== '') inst[`I${i}`] = Number(c[i]);
  for (let i = 1; i <= 26; i++) if (c[13 + i] !== '') inst[`C${i}`] = c[13 + i];
  return inst;
}

/** The batch-1 and batch-64 requests from held-out rows, and the files the load generator sends. */
function requestBodies(dir: string, lines: string[]): { bodies: Map<number, unknown[]>; files: Map<number, string> } {
  const bodies = new Map([1, 64].map((b) => [b, lines.slice(0, b).map(toInstance)]));
  const files = new Map([...bodies].map(([b, inst]) => {
    const f = path.join(dir, `body-${b}.json`);
    fs.writeFileSync(f, JSON.stringify({ instances: inst }));
    return [b, f];
  }));
  return { bodies, files };
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const seconds = argNum('seconds', 8);
  const connections = argNum('connections', 8);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-serve-bench-'));
  try {
    const lines = await trainModel(dir, argNum('rows', 20_000));
    const root = path.join(dir, 'models');
    const { bodies, files } = requestBodies(dir, lines);
    const server = await startServer(root);
    const url = `${server.url}/v1/models/${MODEL}:predict`;
    let http: Record<string, Record<string, number>>;
    let swap: Record<string, number | string | null>;
    try {
      await drive(url, files.get(1)!, 2, 1); // warm-up
      log(`batch 1, ${connections} connections, ${seconds} s …`);
      const b1 = summary(await drive(url, files.get(1)!, connections, seconds), 1, connections);
      log(JSON.stringify(b1));
      log(`batch 64, ${connections} connections, ${seconds} s …`);
      const b64 = summary(await drive(url, files.get(64)!, connections, seconds), 64, connections);
      log(JSON.stringify(b64));
      http = { batch_1: b1, batch_64: b64 };
      log('hot swap under batch-1 load …');
      swap = await hotSwap(root, server.url, url, files.get(1)!, connections, seconds);
    } finally {
      await server.stop();
    }
    log('in-process predict …');
    const inproc = await inProcess(root, bodies, Math.max(2, seconds / 2));
    log('PyTorch forward …');
    const torch = torchPeer(argNum('torch-threads', 2), Math.max(2, seconds / 2));
    const steadyP99 = http.batch_1.p99_ms;
    const result = {
      bench: 'serve', model: `deepfm 26x16 MLP 400-400 (${MODEL})`, backend: server.backend, cores: os.availableParallelism(),
      http, inprocess: inproc, torch, swap,
      ratios: {
        http_vs_inprocess_batch_64: http.batch_64.preds_per_s / inproc.batch_64.preds_per_s,
        http_vs_inprocess_batch_1: http.batch_1.preds_per_s / inproc.batch_1.preds_per_s,
        swap_p99_vs_steady: Number(swap.p99_in_window_ms) / steadyP99,
        swap_p99_vs_same_run_outside_window: Number(swap.p99_in_window_ms) / Number(swap.p99_outside_window_ms),
      },
      targets: {
        batch_64_http_at_least_half_inprocess: http.batch_64.preds_per_s >= 0.5 * inproc.batch_64.preds_per_s,
        batch_1_p99_at_most_10_ms: steadyP99 <= 10,
        swap_failed_requests_zero: swap.failures === 0,
        swap_p99_at_most_2x_steady: Number(swap.p99_in_window_ms) <= 2 * steadyP99,
      },
    };
    if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  process.stderr.write(`bench:serve failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
