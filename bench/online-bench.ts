/**
 * bench:online — online learning end to end (issue #15 §4): a stream job of 2 PS and 2 workers
 * (`tessera local`'s cluster with a redis-stream:// source, a real redis-server), one
 * `tessera serve --follow`, and `tessera replay`'s engine writing at a fixed rate. In the same
 * run, the same job on the same rows as files (bench:cluster's 2-worker figure) is the peer.
 *
 *   npm run bench:online -- --json [--rows 60000] [--rate 1000] [--probes 8] [--delta-every 2]
 *
 * Figures: stream training rate (a backlog of `rows` events drained by the job, from its first
 * commit to its last) against the file rate; freshness p50/p99 (from the write of a burst of
 * events with a brand-new id, label 1, to the first served prediction for that id above its
 * cold-start value + 0.1 (or halfway to 1), while background events arrive at `rate`); the training pause per
 * delta and the delta bytes per changed row (from the chief's "published delta" log lines).
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
import { criteoInstance } from '../test/helpers/serve';
import { argNum } from './bench-args';
import { TRAIN_BENCH_JOB_YAML } from './bench-job';

const MODEL = 'online-bench';
const PROBE_EVENTS = 300;
/** A probe that sees no effect in this long reports Infinity (freshness beyond any target). */
const PROBE_TIMEOUT_MS = 120_000;

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

async function predictMean(url: string, instances: unknown[]): Promise<number> {
  const res = await fetch(`${url}/v1/models/${MODEL}:predict`, { method: 'POST', body: JSON.stringify({ instances }) });
  const body = await res.json() as { predictions: number[] };
  return body.predictions.reduce((a, b) => a + b, 0) / body.predictions.length;
}

function planted(lines: string[], id: string, label: number): string[] {
  return lines.map((l) => { const c = l.split('\t'); c[0] = String(label); c[14] = id; return c.join('\t'); });
}

/**
 * Seconds from writing a burst of a new id's events to a served prediction that reflects them
 * (above the cold-start mean by 0.1, or by half the way to 1 when that is less). Each probe plants
 * its id on rows of its own, so an earlier probe's training does not move this one's baseline.
 */
async function probe(log: RedisStreamLog, key: string, url: string, base: string[], id: string): Promise<number> {
  const rows = planted(base.slice(0, 50), id, 0).map(criteoInstance);
  const cold = await predictMean(url, rows);
  const target = cold + Math.min(0.1, (1 - cold) / 2);
  const events = planted(base.slice(0, PROBE_EVENTS), id, 1);
  await log.append(events.map((line, i) => ({ key: `${key}:${i % 2}`, fields: { line } })));
  // performance.now(): a monotonic clock, so a wall-clock step cannot make a probe look slow or fast.
  const written = performance.now();
  for (;;) {
    if (await predictMean(url, rows) > target) return (performance.now() - written) / 1000;
    if (performance.now() - written > PROBE_TIMEOUT_MS) {
      process.stderr.write(`probe ${id}: cold ${cold.toFixed(3)}, target ${target.toFixed(3)}, still ${(await predictMean(url, rows)).toFixed(3)}\n`);
      return Infinity;
    }
    await new Promise((r) => setTimeout(r, 50)); // the probe's sampling interval
  }
}

function deltaFigures(chiefLog: string): { pauses: number[]; bytes: number; rows: number } {
  const out = { pauses: [] as number[], bytes: 0, rows: 0 };
  for (const line of fs.readFileSync(chiefLog, 'utf8').split('\n')) {
    if (!line.includes('"msg":"published delta"')) continue;
    const o = JSON.parse(line) as { pauseMs: number; bytes: number; rows: number };
    out.pauses.push(o.pauseMs);
    out.bytes += o.bytes;
    out.rows += o.rows;
  }
  return out;
}

async function main(): Promise<void> {
  const rows = argNum('rows', 60_000);
  const rate = argNum('rate', 1_000);
  const probes = argNum('probes', 8);
  const deltaEvery = argNum('delta-every', 2);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-online-bench-'));
  const redis = await startRedis();
  const stops: (() => Promise<unknown>)[] = [() => redis.stop()];
  try {
    const train = path.join(dir, 'train.tsv');
    await generate({ rows, seed: 7, out: train });
    const lines = fs.readFileSync(train, 'utf8').split('\n').filter(Boolean);
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
    const url = (JSON.parse(await serve.waitForLine(/^\{"rest":/, 120_000)) as { rest: string }).rest;
    await serve.waitForLine(/"msg":"delta applied"/, 120_000);
    // Background events at the fixed rate while the probes run.
    let background = true;
    const bg = (async () => { while (background) await replayFile(train, log, { key: 'events', partitions: 2, rate, stop: () => !background }); })();
    bg.catch((err: Error) => process.stderr.write(`background replay stopped: ${err.message}\n`));
    stops.unshift(async () => { background = false; await bg.catch(() => undefined); });
    const fresh: number[] = [];
    for (let i = 0; i < probes; i++) {
      const base = lines.slice(i * PROBE_EVENTS, (i + 1) * PROBE_EVENTS);
      fresh.push(await probe(log, 'events', url, base, `f00d${String(i).padStart(4, '0')}`));
      process.stderr.write(`probe ${i}: ${fresh[i].toFixed(2)} s\n`);
    }
    background = false;
    await bg.catch(() => undefined);
    const d = deltaFigures(path.join(runDir, 'chief-0.log'));
    const out = {
      bench: 'online', stream_samples_per_s: Math.round(streamSamplesPerS), file_samples_per_s: Math.round(fileSamplesPerS),
      stream_vs_file: streamSamplesPerS / fileSamplesPerS, freshness_p50_s: quantile(fresh, 0.5), freshness_p99_s: quantile(fresh, 0.99),
      delta_every_s: deltaEvery, pause_ms_p50: d.pauses.length ? quantile(d.pauses, 0.5) : null, pause_ms_max: d.pauses.length ? Math.max(...d.pauses) : null,
      // A probe past PROBE_TIMEOUT_MS counts here; its Infinity makes a quantile it reaches null in JSON.
      probes_timed_out: fresh.filter((x) => !Number.isFinite(x)).length,
      deltas: d.pauses.length, delta_bytes_per_row: d.rows ? d.bytes / d.rows : null,
      targets: { stream_vs_file: 0.8, freshness_p99_s: deltaEvery + 5, pause_ms: 50 }, rows, rate, probes, ps: 2, workers: 2,
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    for (const s of stops) await s().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`bench:online failed: ${err instanceof Error ? err.stack : err}\n`);
  process.exit(1);
});
