import { expect } from 'chai';
import { silentLogger } from '../../src/common/logger';
import { serveMetrics, MetricsServer } from '../../src/metrics/http';
import { createMetrics } from '../../src/metrics/registry';
import { WorkerMetrics } from '../../src/worker/worker-metrics';
import { startPsServer, PsServer } from '../../src/ps/ps-server';
import type { TableSpec } from '../../src/ps/store/table-store';
import { planShardMap } from '../../src/sharding/shard-map';
import { Encoding } from '../../src/wire/data-plane-codec';
import { PsConnection } from '../../src/wire/ps-connection';
import { PsClient } from '../../src/client/ps-client';
import { ChiefMetrics } from '../../src/chief/chief-metrics';
import { BuildInfo } from '../../src/metrics/build-info';
import type { JobStatus } from '../../src/control/job-types';

const DIM = 4;
const SPEC: TableSpec = { name: 'emb', kind: 'embedding', dim: DIM, optimizer: { kind: 'sgd', lr: 0.1 }, initializer: { kind: 'uniform', scale: 0.1 }, seed: 1 };
/** Ids 1, 2, 3 as (lo, hi) u32 pairs. */
const IDS = new Uint32Array([1, 0, 2, 0, 3, 0]);

/** Samples of a Prometheus text exposition: name, labels, value. */
function parse(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** The one sample named `name` whose labels include `labels`. */
function value(text: string, name: string, labels: Record<string, string> = {}): number {
  const hits = parse(text).filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  expect(hits, `${name} ${JSON.stringify(labels)} in:\n${text}`).to.have.length(1);
  return hits[0].value;
}

async function scrape(http: MetricsServer): Promise<string> {
  const res = await fetch(http.url);
  expect(res.status).to.equal(200);
  expect(res.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

describe('Prometheus /metrics', function () {
  this.timeout(20_000);

  describe('on a PS (real gRPC and HTTP)', () => {
    let ps: PsServer;
    let http: MetricsServer;
    let client: PsClient;
    let conn: PsConnection;

    beforeEach(async () => {
      const metrics = createMetrics({ job: 'metrics-test', role: 'ps', id: 'ps-7' });
      ps = await startPsServer({ port: 0, maxRequestBytes: 1 << 20, logger: silentLogger(), metrics: metrics.registry });
      http = await serveMetrics(metrics.registry, { port: 0 });
      client = new PsClient({ shardMap: planShardMap([{ id: 0, addr: ps.addr }]), logger: silentLogger() });
      await client.admin.installShardMap();
      await client.admin.createTable(SPEC);
      conn = new PsConnection({ addr: ps.addr, maxMessageBytes: 1 << 20 });
    });
    afterEach(async () => {
      conn.close();
      client.close();
      await http.close();
      await ps.stop();
    });

    const badPush = (table: string) => conn.push({
      table, shardMapVersion: ps.node.shardMapVersion, ids: Buffer.from(new BigUint64Array([1n]).buffer),
      grads: Buffer.from(new Float32Array(DIM).buffer), encoding: Encoding.F32, requestId: 0,
    }, 5000).then(() => null, (e: Error) => e);

    it('counts pulls, pushes and rows, times them, and reports table sizes with tessera_job/role/id labels', async () => {
      const before = await scrape(http);
      expect(value(before, 'tessera_ps_requests_total', { op: 'pull', outcome: 'ok' })).to.equal(0);
      await client.data.pull('emb', IDS, DIM);
      await client.data.pull('emb', IDS, DIM);
      await client.data.push('emb', IDS, new Float32Array(3 * DIM).fill(0.5));
      await client.data.flush();

      const text = await scrape(http);
      // `tessera_job`, not `job`: Prometheus's own target label `job` would rename ours (issue 19).
      const ps7 = { tessera_job: 'metrics-test', role: 'ps', id: 'ps-7' };
      expect(parse(text).some((s) => 'job' in s.labels), 'no series carries a `job` label').to.equal(false);
      expect(value(text, 'tessera_ps_requests_total', { ...ps7, op: 'pull', outcome: 'ok' })).to.equal(2);
      expect(value(text, 'tessera_ps_requests_total', { op: 'push', outcome: 'ok' })).to.equal(1);
      expect(value(text, 'tessera_ps_requests_total', { op: 'push', outcome: 'error' })).to.equal(0);
      expect(value(text, 'tessera_ps_rows_total', { op: 'pull' })).to.equal(6);
      expect(value(text, 'tessera_ps_rows_total', { op: 'push' })).to.equal(3);
      expect(value(text, 'tessera_ps_request_seconds_count', { op: 'pull' })).to.equal(2);
      expect(value(text, 'tessera_ps_request_seconds_count', { op: 'push' })).to.equal(1);
      expect(value(text, 'tessera_ps_request_seconds_bucket', { op: 'pull', le: '+Inf' })).to.equal(2);
      expect(value(text, 'tessera_ps_request_seconds_sum', { op: 'pull' })).to.be.greaterThan(0);
      const table = ps.node.stats().tables.find((t) => t.name === 'emb')!;
      expect(table.rows).to.equal(3);
      expect(value(text, 'tessera_ps_table_rows', { ...ps7, table: 'emb' })).to.equal(table.rows);
      expect(value(text, 'tessera_ps_table_bytes', { table: 'emb' })).to.equal(table.bytes);
      expect(value(text, 'tessera_ps_fenced', ps7)).to.equal(0);
    });

    it('counts a failed push under outcome="error" and shows fencing', async () => {
      expect(await badPush('nope')).to.be.instanceOf(Error);
      let text = await scrape(http);
      expect(value(text, 'tessera_ps_requests_total', { op: 'push', outcome: 'error' })).to.equal(1);
      expect(value(text, 'tessera_ps_requests_total', { op: 'push', outcome: 'ok' })).to.equal(0);
      expect(value(text, 'tessera_ps_rows_total', { op: 'push' })).to.equal(0);
      expect(value(text, 'tessera_ps_request_seconds_count', { op: 'push' })).to.equal(1);

      ps.node.setFenced('test');
      expect(await badPush('emb')).to.be.instanceOf(Error);
      text = await scrape(http);
      expect(value(text, 'tessera_ps_fenced')).to.equal(1);
      expect(value(text, 'tessera_ps_requests_total', { op: 'push', outcome: 'error' })).to.equal(2);
    });

    it('answers 404 off /metrics', async () => {
      const res = await fetch(http.url.replace('/metrics', '/nope'));
      expect(res.status).to.equal(404);
      await res.text();
    });
  });

  describe('on a worker', () => {
    let http: MetricsServer | null = null;
    afterEach(async () => {
      await http?.close();
      http = null;
    });

    it('reports samples, samples/s, loss, step, eval and the push window', async () => {
      const metrics = createMetrics({ job: 'ctr', role: 'worker', id: 'worker-0' });
      let nowMs = 0;
      const window = { inflightPushes: 2, pushThrottles: 5 };
      const wm = new WorkerMetrics(metrics.registry, { pushes: window, now: () => nowMs, rateWindowMs: 1000 });
      http = await serveMetrics(metrics.registry, { port: 0 });
      const time = { pullWaitS: 0.01, computeS: 0.05, pushWaitS: 0.002 };
      for (const [t, step] of [[0, 1], [500, 2], [1000, 3]]) {
        nowMs = t;
        wm.onStep({ step, samples: 100 * step, loss: 0.7 - 0.1 * step, time });
      }
      // Before any evaluation the eval series are absent, not 0 (issue 19).
      let text = await scrape(http);
      expect(parse(text).filter((s) => s.name.startsWith('tessera_worker_eval_'))).to.deep.equal([]);
      wm.onEval({ auc: 0.75, logloss: 0.45 });
      wm.onBadLines(3);
      wm.onShardFailure();

      text = await scrape(http);
      const w0 = { tessera_job: 'ctr', role: 'worker', id: 'worker-0' };
      expect(value(text, 'tessera_worker_pull_wait_seconds_total', w0)).to.be.closeTo(0.03, 1e-9);
      expect(value(text, 'tessera_worker_compute_seconds_total')).to.be.closeTo(0.15, 1e-9);
      expect(value(text, 'tessera_worker_push_wait_seconds_total')).to.be.closeTo(0.006, 1e-9);
      expect(value(text, 'tessera_worker_bad_lines_total')).to.equal(3);
      expect(value(text, 'tessera_worker_shard_failures_total')).to.equal(1);
      expect(value(text, 'tessera_worker_samples_total', w0)).to.equal(300);
      expect(value(text, 'tessera_worker_samples_per_second')).to.equal(200); // (300 - 100) samples in 1 s
      expect(value(text, 'tessera_worker_loss')).to.be.closeTo(0.4, 1e-9);
      expect(value(text, 'tessera_worker_step')).to.equal(3);
      expect(value(text, 'tessera_worker_eval_auc', w0)).to.equal(0.75);
      expect(value(text, 'tessera_worker_eval_logloss')).to.equal(0.45);
      expect(value(text, 'tessera_worker_pushes_in_flight')).to.equal(2);
      expect(value(text, 'tessera_worker_push_throttles_total')).to.equal(5);
      // The in-flight gauge was named tessera_worker_inflight_pushes and sold as staleness (issue 19).
      expect(parse(text).filter((x) => x.name === 'tessera_worker_inflight_pushes')).to.deep.equal([]);

      window.pushThrottles = 7;
      window.inflightPushes = 0;
      text = await scrape(http);
      expect(value(text, 'tessera_worker_push_throttles_total')).to.equal(7);
      expect(value(text, 'tessera_worker_pushes_in_flight')).to.equal(0);
    });

    it('exports push staleness as a histogram of updates per row, from the counts the worker keeps (issue 19)', async () => {
      const metrics = createMetrics({ job: 'ctr', role: 'worker', id: 'worker-0' });
      const wm = new WorkerMetrics(metrics.registry);
      http = await serveMetrics(metrics.registry, { port: 0 });
      const name = 'tessera_worker_push_staleness_updates';
      let text = await scrape(http);
      expect(value(text, `${name}_count`, { tessera_job: 'ctr' }), 'present (at 0) before any sampled push').to.equal(0);
      wm.onStaleness(Uint32Array.of(0, 0, 2, 5, 5000));
      wm.onStaleness(Uint32Array.of(1));
      text = await scrape(http);
      expect(value(text, `${name}_count`)).to.equal(6);
      expect(value(text, `${name}_sum`)).to.equal(5008);
      expect(value(text, `${name}_bucket`, { le: '0' })).to.equal(2);
      expect(value(text, `${name}_bucket`, { le: '1' })).to.equal(3);
      expect(value(text, `${name}_bucket`, { le: '4' })).to.equal(4);
      expect(value(text, `${name}_bucket`, { le: '6' })).to.equal(5);
      expect(value(text, `${name}_bucket`, { le: '4096' })).to.equal(5);
      expect(value(text, `${name}_bucket`, { le: '+Inf', id: 'worker-0' })).to.equal(6);
      expect(text).to.contain(`# TYPE ${name} histogram`);
      expect(wm.staleness.counts.reduce((a, b) => a + b, 0)).to.equal(6);
    });
  });
});

describe('chief and build-info metrics (issue 19)', () => {
  let http: MetricsServer | null = null;
  afterEach(async () => {
    await http?.close();
    http = null;
  });

  const status = (over: Partial<JobStatus>): JobStatus => ({
    epoch: 0, epochs: 2, phase: 'train', step: 10, samples: 1000, samplesPerS: 500, loss: null, lastEval: null,
    shardsDone: 1, shardsTotal: 8, workers: 2, chief: 'chief-0', at: new Date(0).toISOString(), ...over,
  });

  it('exports a 1-based epoch and the target, a samples counter, and no loss, AUC or checkpoint series before they are known', async () => {
    const metrics = createMetrics({ job: 'ctr', role: 'chief', id: 'chief-0' });
    const cm = new ChiefMetrics(metrics.registry);
    new BuildInfo(metrics.registry, '9.9.9').setBackend('wasm');
    http = await serveMetrics(metrics.registry, { port: 0 });
    cm.onStatus(status({}));
    let text = await scrape(http);
    expect(value(text, 'tessera_job_epoch', { tessera_job: 'ctr' })).to.equal(1);
    expect(value(text, 'tessera_job_epochs')).to.equal(2);
    expect(value(text, 'tessera_job_phase', { phase: 'train' })).to.equal(1);
    expect(value(text, 'tessera_job_phase', { phase: 'eval' })).to.equal(0);
    expect(value(text, 'tessera_job_samples_total')).to.equal(1000);
    expect(text).to.match(/# TYPE tessera_job_samples_total counter/);
    expect(value(text, 'tessera_build_info', { version: '9.9.9', backend: 'wasm' })).to.equal(1);
    const names = new Set(parse(text).map((s) => s.name));
    for (const absent of ['tessera_job_loss', 'tessera_job_eval_auc', 'tessera_job_eval_logloss', 'tessera_checkpoint_last_success_timestamp_seconds']) {
      expect(names.has(absent), absent).to.equal(false);
    }

    cm.onStatus(status({ epoch: 1, phase: 'eval', samples: 2500, loss: 0.45, lastEval: { epoch: 0, auc: 0.77, logloss: 0.46, rows: 100 }, nonFiniteStops: 1 }));
    cm.onCheckpoint({ id: 'c1', path: '/x/c1', kind: 'full', pauseMs: 3, bytes: 4096, step: 20, epoch: 1, seconds: 0.7, at: 1_700_000_000_000 });
    text = await scrape(http);
    expect(value(text, 'tessera_job_epoch')).to.equal(2);
    expect(value(text, 'tessera_job_samples_total')).to.equal(2500);
    expect(value(text, 'tessera_job_loss')).to.equal(0.45);
    expect(value(text, 'tessera_job_eval_auc')).to.equal(0.77);
    expect(value(text, 'tessera_job_nonfinite_stops')).to.equal(1);
    expect(value(text, 'tessera_checkpoint_last_success_timestamp_seconds')).to.equal(1_700_000_000);
    expect(value(text, 'tessera_checkpoint_bytes')).to.equal(4096);
    expect(value(text, 'tessera_checkpoint_duration_seconds_count')).to.equal(1);
  });
});
