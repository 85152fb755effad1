/**
 * bench:online — online learning end to end (issue #15 §4): a stream job of 2 PS and 2 workers
 * (`tessera local`'s cluster with a redis-stream:// source, a real redis-server), one
 * `tessera serve --follow`, and `tessera replay`'s engine writing at a fixed rate. In the same
 * run, the same job on the same rows as files (bench:cluster's 2-worker figure) is the peer.
 *
 *   npm run bench:online -- --json [--rows 60000] [--rate 1000] [--probes 12] [--probe-events 1000] [--delta-every 2] [--keep]
 *
 * Figures: stream training rate (a backlog of `rows` events drained by the job, from its first
 * commit to its last) against the file rate; freshness p50/p99 (online-probe.ts: from the write
 * of `probe-events` label-1 events with a brand-new id to the first served answer where rows with
 * that id score above the same rows with a never-written control id, while background events
 * arrive at `rate`), with each probe's time split along the path; the training pause per delta
 * (the chief's cut at per-worker steps, with where it went, and the longest any worker's push
 * was held, from the PS's logs) and the delta bytes per changed row, from the processes' logs. `--keep` keeps the run's folder (logs) and prints it.
 * Targets: stream ≥ 80% of the file rate, freshness p99 ≤ delta-every + 5 s, pause ≤ 50 ms.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generate } from '../src/gen/generate';
import { LocalCluster } from '../src/local/local-cluster';
import { TESSERA_BIN } from '../src/local/ps-process';
import { createEtcdClient } from '../src/runtime/etcd-client';
import { EtcdJobStore } from '../src/control/etcd-job-store';
import { silentLogger } from '../src/common/logger';
import { RedisStreamLog } from '../src/stream/redis-stream-log';
import { replayFile } from '../src/stream/replay';
import { parseStreamUrl } from '../src/stream/stream-url';
import { startRedis } from '../test/helpers/redis';
import { spawnNode } from '../test/helpers/spawn';
import { argNum } from './bench-args';
import { TRAIN_BENCH_JOB_YAML } from './bench-job';
import { probe, probePath, type ProbePath, type ProbeResult, versionTimes } from './online-probe';

const MODEL = 'online-bench';
/** Rows scored by a probe (twice: with the planted id and with the control id). */
const PROBE_ROWS = 50;
/**
 * How far the planted-minus-control mean prediction must rise for a probe to resolve. Before the
 * planted row is served, the two differ only by their cold-start rows: under 0.001, moving by less
 * than that as the dense weights train (measured). Label-1 training moves the planted row so the
 * difference jumps by about 0.01-0.07 in one version, by how much depending on the rows scored:
 * a threshold of 0.02 left two probes of nine below it for a minute (they had reached 0.016).
 */
const PROBE_THRESHOLD = 0.005;
/** A probe that sees no effect in this long reports Infinity (freshness beyond any target). */
const PROBE_TIMEOUT_MS = 60_000;

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
};

async function committedRows(c: LocalCluster): Promise<number> {
  const client = createEtcdClient(c.etcdUrl);
  try {
    const snap = await new EtcdJobStore({ client, job: c.opts.job, logger: silentLogger() }).snapshot();
    return [...snap.progress.values()].reduce((n, p) => n + p.rows, 0);
  } finally {
    client.close();
  }
}

async function fileRate(dir: string, jobFile: string, train: string): Promise<number> {
  const runDir = path.join(dir, 'file');
  fs.mkdirSync(runDir);
  const c = await LocalCluster.start({ runDir, job: 'online-file', specPath: jobFile, ps: 2, workers: 2, data: train, epochs: 1, shards: 8, logLevel: 'warn' });
  try {
    return (await c.waitDone()).samples_per_s;
  } finally {
    await c.stop();
  }
}

/** Drains a backlog of `rows` events; the rate from the first commit seen to the last row. */
async function drain(c: LocalCluster, rows: number): Promise<number> {
  let first: { at: number; rows: number } | undefined;
  for (;;) {
    const n = await committedRows(c);
    if (!first && n > 0) first = { at: performance.now(), rows: n };
    if (n >= rows) return first ? (n - first.rows) / ((performance.now() - first.at) / 1000) : NaN;
    await new Promise((r) => setTimeout(r, 100)); // a benchmark's sampling interval
  }
}

/**
 * Figures of the published deltas (the chief's log) and of the longest any worker's push was
 * held per cut (the PS's logs: a PS holds pushes from the chief's first round to its cut, so its
 * `heldMs` bounds what a push it held waited; a cut that held no push paused no worker).
 */
function deltaFigures(runDir: string, psCount: number): { pauses: number[]; stages: Record<string, number[]>; workerPauses: number[]; bytes: number; rows: number } {
  const out = { pauses: [] as number[], stages: {} as Record<string, number[]>, workerPauses: [] as number[], bytes: 0, rows: 0 };
  for (const line of fs.readFileSync(path.join(runDir, 'chief-0.log'), 'utf8').split('\n')) {
    if (!line.includes('"msg":"published delta"')) continue;
    const o = JSON.parse(line) as { pauseMs: number; pause?: Record<string, number>; bytes: number; rows: number };
    out.pauses.push(o.pauseMs);
    for (const [k, v] of Object.entries(o.pause ?? {})) (out.stages[k] ??= []).push(v);
    out.bytes += o.bytes;
    out.rows += o.rows;
  }
  const perCut = new Map<string, number>();
  for (let i = 0; i < psCount; i++) {
    for (const line of fs.readFileSync(path.join(runDir, `ps-${i}.log`), 'utf8').split('\n')) {
      if (!line.includes('"msg":"cut hold ended; held pushes applied"')) continue;
      const o = JSON.parse(line) as { cut: string; heldPushes: number; heldMs: number };
      if (!o.cut.startsWith('delta-')) continue;
      perCut.set(o.cut, Math.max(perCut.get(o.cut) ?? 0, o.heldPushes > 0 ? o.heldMs : 0));
    }
  }
  out.workerPauses = [...perCut.values()];
  return out;
}

/** p50, p99 and max of `xs` (nulls when empty). */
const spread = (xs: number[]) => ({ p50: xs.length ? quantile(xs, 0.5) : null, p99: xs.length ? quantile(xs, 0.99) : null, max: xs.length ? Math.max(...xs) : null });

/** Runs the probes one after another (each with ids and rows of its own), while background events arrive. */
async function probeAll(o: { log: RedisStreamLog; url: string; lines: string[]; probes: number; probeEvents: number }): Promise<ProbeResult[]> {
  const out: ProbeResult[] = [];
  const eventsFrom = o.probes * PROBE_ROWS;
  for (let i = 0; i < o.probes; i++) {
    const r = await probe({
      log: o.log, key: 'events', partitions: 2, url: o.url, model: MODEL, threshold: PROBE_THRESHOLD, timeoutMs: PROBE_TIMEOUT_MS,
      scored: o.lines.slice(i * PROBE_ROWS, (i + 1) * PROBE_ROWS), events: o.lines.slice(eventsFrom + i * o.probeEvents, eventsFrom + (i + 1) * o.probeEvents),
      id: `f00d${String(i).padStart(4, '0')}`, control: `c0de${String(i).padStart(4, '0')}`,
    });
    process.stderr.write(`probe ${i}: ${r.seconds.toFixed(2)} s (v${r.version}, planted - control ${r.coldDiff.toFixed(4)} -> ${r.diff.toFixed(4)}; by version ${JSON.stringify(r.trace)})\n`);
    out.push(r);
  }
  return out;
}

/** The freshness and pause figures of a run, from the probes and the processes' logs. */
function figures(runDir: string, results: ProbeResult[], serveLines: readonly string[]): Record<string, unknown> {
  const fresh = results.map((r) => r.seconds);
  const times = versionTimes(path.join(runDir, 'chief-0.log'), serveLines);
  const paths = results.map((r) => probePath(r, times));
  const stage = (k: keyof ProbePath) => spread(paths.map((p) => p[k]).filter((x): x is number => x !== null));
  const d = deltaFigures(runDir, 2);
  return {
    freshness_p50_s: quantile(fresh, 0.5), freshness_p99_s: quantile(fresh, 0.99),
    // A probe past PROBE_TIMEOUT_MS counts here; its Infinity makes a quantile it reaches null in JSON.
    probes_timed_out: fresh.filter((x) => !Number.isFinite(x)).length,
    freshness_path_s: { to_cut: stage('toCut'), publish: stage('publish'), apply: stage('apply'), seen: stage('seen') },
    pause_ms: spread(d.pauses), pause_stages_ms: Object.fromEntries(Object.entries(d.stages).map(([k, v]) => [k, spread(v)])),
    worker_pause_ms: spread(d.workerPauses), deltas: d.pauses.length, delta_bytes_per_row: d.rows ? d.bytes / d.rows : null,
  };
}

/** Replays `train` into the stream at `rate` until the function returned is called (it resolves once stopped). */
function background(train: string, log: RedisStreamLog, rate: number): () => Promise<void> {
  let on = true;
  const bg = (async () => { while (on) await replayFile(train, log, { key: 'events', partitions: 2, rate, stop: () => !on }); })();
  bg.catch((err: Error) => process.stderr.write(`background replay stopped: ${err.message}\n`));
  return async () => { on = false; await bg.catch(() => undefined); };
}

/** `--keep`: leaves the run's folder (every process's log; serving's output as serve.log) and names it. */
function keepRun(dir: string, serveLines: readonly string[] | undefined): void {
  if (serveLines) fs.writeFileSync(path.join(dir, 'serve.log'), `${serveLines.join('\n')}\n`);
  process.stderr.write(`kept ${dir}\n`);
}

async function main(): Promise<void> {
  const rows = argNum('rows', 60_000);
  const rate = argNum('rate', 1_000);
  const probes = argNum('probes', 12);
  const probeEvents = argNum('probe-events', 1_000);
  const deltaEvery = argNum('delta-every', 2);
  const keep = process.argv.includes('--keep');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-online-bench-'));
  const redis = await startRedis();
  const stops: (() => Promise<unknown>)[] = [() => redis.stop()];
  let serveLines: string[] | undefined;
  try {
    const train = path.join(dir, 'train.tsv');
    await generate({ rows, seed: 7, out: train });
    const lines = fs.readFileSync(train, 'utf8').split('\n').filter(Boolean);
    if ((PROBE_ROWS + probeEvents) * probes > lines.length) throw new Error(`--probes ${probes} x --probe-events ${probeEvents} needs more than --rows ${rows}`);
    const jobFile = path.join(dir, 'job.yaml');
    fs.writeFileSync(jobFile, TRAIN_BENCH_JOB_YAML.replace('name: train-bench', `name: ${MODEL}`).replace('max_inflight_pushes: 2', 'max_inflight_pushes: 0'));
    const fileSamplesPerS = await fileRate(dir, jobFile, train);
    process.stderr.write(`files: ${fileSamplesPerS.toFixed(0)} samples/s\n`);

    const source = redis.streamUrl('events');
    const log = new RedisStreamLog(parseStreamUrl(source));
    stops.push(() => log.close());
    await replayFile(train, log, { key: 'events', partitions: 2 });
    const runDir = path.join(dir, 'stream');
    fs.mkdirSync(runDir);
    const root = path.join(dir, 'models');
    const c = await LocalCluster.start({
      runDir, job: 'online-stream', specPath: jobFile, ps: 2, workers: 2, data: source, partitions: 2, evalEvery: 0, chiefs: 1,
      exportDir: root, checkpointDir: path.join(dir, 'ckpt'), deltaEvery, fullEvery: 1000,
    });
    stops.unshift(() => c.stop());
    const streamSamplesPerS = await drain(c, rows);
    process.stderr.write(`stream: ${streamSamplesPerS.toFixed(0)} samples/s draining ${rows} events\n`);

    const serve = spawnNode(TESSERA_BIN, ['serve', '--follow', '--model-root', root, '--port', '0', '--poll-ms', '600000', '--json', '--etcd', c.etcdUrl, '--job', 'online-stream']);
    stops.unshift(() => serve.kill());
    serveLines = serve.lines;
    const url = (JSON.parse(await serve.waitForLine(/^\{"rest":/, 120_000)) as { rest: string }).rest;
    // Its first scan loads the stream's full version and applies every delta published so far.
    await serve.waitForLine(/"msg":"first scan done"/, 600_000);
    // Background events at the fixed rate while the probes run.
    const stopBackground = background(train, log, rate);
    stops.unshift(stopBackground);
    const results = await probeAll({ log, url, lines, probes, probeEvents });
    await stopBackground();
    const out = {
      bench: 'online', stream_samples_per_s: Math.round(streamSamplesPerS), file_samples_per_s: Math.round(fileSamplesPerS),
      stream_vs_file: streamSamplesPerS / fileSamplesPerS, ...figures(runDir, results, serve.lines),
      targets: { stream_vs_file: 0.8, freshness_p99_s: deltaEvery + 5, pause_ms: 50 }, delta_every_s: deltaEvery, rows, rate, probes, probe_events: probeEvents, ps: 2, workers: 2,
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    for (const s of stops) await s().catch(() => undefined);
    if (keep) keepRun(dir, serveLines);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`bench:online failed: ${err instanceof Error ? `${err.stack}${err.cause ? `\ncause: ${String(err.cause)}` : ''}` : err}\n`);
  process.exit(1);
});
