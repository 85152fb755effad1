/**
 * A real Prometheus (Debian's `prometheus` package) for tests: its own config, data dir and port,
 * scraping a `tessera local` run through the run's file_sd file. Tests skip with a message when
 * it is absent, and fail instead with TESSERA_REQUIRE_PROMETHEUS=1 (CI).
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { freePort } from './ports';

export const PROMETHEUS_SKIP_MESSAGE = 'prometheus not installed: apt-get install -y prometheus (it also gives promtool)';

/** True when `prometheus` and `promtool` are on PATH. */
export function prometheusAvailable(): boolean {
  return ['prometheus', 'promtool'].every((b) => spawnSync(b, ['--version'], { stdio: 'ignore' }).status === 0);
}

/** Skips the suite when Prometheus is absent; throws instead with TESSERA_REQUIRE_PROMETHEUS=1. */
export function requirePrometheus(ctx: Mocha.Context): void {
  if (prometheusAvailable()) return;
  if (process.env.TESSERA_REQUIRE_PROMETHEUS === '1') throw new Error(`TESSERA_REQUIRE_PROMETHEUS=1 but ${PROMETHEUS_SKIP_MESSAGE}`);
  // eslint-disable-next-line no-console
  console.warn(`  skipping: ${PROMETHEUS_SKIP_MESSAGE}`);
  ctx.skip();
}

/** One sample of an instant query. */
export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** A running Prometheus. */
export interface PrometheusHandle {
  readonly url: string;
  readonly logFile: string;
  /** Instant query; rejects with Prometheus's error (e.g. a parse error) for a bad expression. */
  query(expr: string): Promise<PromSample[]>;
  /** Range query over [start, end] (Unix seconds), one point per `stepS`. */
  queryRange(expr: string, start: number, end: number, stepS: number): Promise<{ metric: Record<string, string>; values: [number, string][] }[]>;
  /** GET /api/v1/<path>'s `data`. */
  api<T>(pathAndQuery: string): Promise<T>;
  stop(): Promise<void>;
}

/** The Prometheus config: one scrape job over `targetsFile`, every second, and `ruleFiles`. */
export function prometheusConfig(job: string, targetsFile: string, ruleFiles: string[]): string {
  return [
    'global: { scrape_interval: 1s, evaluation_interval: 1s, scrape_timeout: 900ms }',
    `rule_files: ${JSON.stringify(ruleFiles)}`,
    'scrape_configs:',
    `  - job_name: ${JSON.stringify(job)}`,
    `    file_sd_configs: [{ files: [${JSON.stringify(targetsFile)}], refresh_interval: 1s }]`,
    '',
  ].join('\n');
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  const body = await res.json() as { status: string; data: T; error?: string };
  if (body.status !== 'success') throw new Error(`${url}: ${body.error ?? res.status}`);
  return body.data;
}

/**
 * Starts Prometheus in `dir` with `config` and resolves once it answers /-/ready. The port comes
 * from freePort(); if another process takes it first, Prometheus exits and the start is retried.
 */
export async function startPrometheus(dir: string, config: string): Promise<PrometheusHandle> {
  fs.mkdirSync(dir, { recursive: true });
  const configFile = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(configFile, config);
  const check = spawnSync('promtool', ['check', 'config', configFile], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`promtool check config: ${check.stdout}${check.stderr}`);
  const logFile = path.join(dir, 'prometheus.log');
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const fd = fs.openSync(logFile, 'a');
    const proc = spawn('prometheus', [`--config.file=${configFile}`, `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    const url = `http://127.0.0.1:${port}`;
    if (await ready(proc, url)) return handle(proc, url, logFile);
    if (attempt === 2) throw new Error(`prometheus did not start; log: ${fs.readFileSync(logFile, 'utf8').slice(-2000)}`);
  }
}

/** Resolves true once /-/ready answers 200, false if the process exits first. */
async function ready(proc: ChildProcess, url: string): Promise<boolean> {
  let exited = false;
  proc.once('exit', () => { exited = true; });
  while (!exited) {
    const ok = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
    if (ok) return true;
    // Not up yet: wait for the next attempt, or for the process to exit (a taken port).
    await new Promise((resolve) => { const t = setTimeout(resolve, 100); proc.once('exit', () => { clearTimeout(t); resolve(null); }); });
  }
  return false;
}

function handle(proc: ChildProcess, url: string, logFile: string): PrometheusHandle {
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    url, logFile,
    query: (expr) => getJson<{ result: PromSample[] }>(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`).then((d) => d.result),
    queryRange: (expr, start, end, stepS) => getJson<{ result: { metric: Record<string, string>; values: [number, string][] }[] }>(
      `${url}/api/v1/query_range?query=${encodeURIComponent(expr)}&start=${start}&end=${end}&step=${stepS}`).then((d) => d.result),
    api: (p) => getJson(`${url}/api/v1/${p}`),
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}
