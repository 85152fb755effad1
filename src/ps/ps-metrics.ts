/**
 * PS metrics: requests, rows and latency per data-plane op (counted by data-service.ts), and
 * table sizes read from PsNode.stats() when scraped, so the hot path never touches them.
 *
 * Series (plus the registry's job/role/id labels):
 * - tessera_ps_requests_total{op="pull|push",outcome="ok|error"}  counter
 * - tessera_ps_rows_total{op}                                    counter (rows in ok requests)
 * - tessera_ps_request_seconds{op}                               histogram
 * - tessera_ps_stream_pauses_total{op}                           counter: times a PullStream/PushStream
 *   stopped reading requests because its answers were not being read (backpressure)
 * - tessera_ps_table_rows{table}, tessera_ps_table_bytes{table}  gauges
 * - tessera_ps_table_budget_rows{table}, tessera_ps_table_budget_bytes{table}  gauges: the
 *   table's eviction budget (`eviction.maxRows` / `maxBytes`), only for tables that have one
 * - tessera_ps_fenced                                            gauge, 1 while pushes are refused
 * - tessera_ps_duplicate_pushes_total                            counter: retried pushes acknowledged
 *   again without being applied (their first attempt was applied; its answer came late or was lost)
 * - tessera_ps_admissions_total{table,outcome="admitted|rejected"} counter: ids given a row by
 *   feature admission, and pulled ids refused one
 * - tessera_ps_dropped_gradient_rows_total{table}                 counter: pushed rows of ids not admitted
 * - tessera_ps_evictions_total{table,reason="ttl|budget"}         counter: rows evicted
 * The last three are read from the tables' own counters at scrape time, like the gauges.
 * Disk-tier series (tessera_ps_tier_*{table}): tier-metrics.ts.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { PsNode } from './ps-node';
import { registerTierMetrics } from './tier-metrics';

/** Latency buckets in seconds, 0.1 ms to 1 s: a local pull takes well under 1 ms, a large push tens of ms. */
export const PS_REQUEST_BUCKETS_S = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

type CounterChild = ReturnType<Counter<string>['labels']>;
type HistogramChild = ReturnType<Histogram<string>['labels']>;

/**
 * Records one op (pull or push). Its label children are created once, so a request costs two
 * counter increments and one histogram observation.
 */
export class OpRecorder {
  private readonly okCount: CounterChild;
  private readonly errorCount: CounterChild;
  private readonly rows: CounterChild;
  private readonly seconds: HistogramChild;
  private readonly pauses: CounterChild;

  constructor(op: 'pull' | 'push', series: { requests: Counter<string>; rows: Counter<string>; seconds: Histogram<string>; pauses: Counter<string> }) {
    this.okCount = series.requests.labels(op, 'ok');
    this.errorCount = series.requests.labels(op, 'error');
    this.rows = series.rows.labels(op);
    this.seconds = series.seconds.labels(op);
    this.pauses = series.pauses.labels(op);
    // Export the zero series up front so rate() has a baseline before the first request.
    for (const c of [this.okCount, this.errorCount, this.rows, this.pauses]) c.inc(0);
  }

  /** A stream of this op stopped reading requests: its answers were not being read. */
  paused(): void {
    this.pauses.inc();
  }

  /** A request that started at `startMs` (performance.now()) succeeded with `rows` rows. */
  ok(startMs: number, rows: number): void {
    this.seconds.observe((performance.now() - startMs) / 1000);
    this.okCount.inc();
    this.rows.inc(rows);
  }

  /** A request that started at `startMs` failed. */
  error(startMs: number): void {
    this.seconds.observe((performance.now() - startMs) / 1000);
    this.errorCount.inc();
  }
}

/**
 * The metrics of one PS node, registered on `registry`.
 *
 * ```ts
 * const { registry } = createMetrics({ job: 'ctr', role: 'ps', id: 'ps-0' });
 * const server = await startPsServer({ port: 0, maxRequestBytes, logger, metrics: registry });
 * ```
 */
export class PsMetrics {
  readonly pull: OpRecorder;
  readonly push: OpRecorder;

  constructor(registry: Registry, node: PsNode) {
    const registers = [registry];
    const requests = new Counter({
      name: 'tessera_ps_requests_total', help: 'Data-plane requests served, by op and outcome.', labelNames: ['op', 'outcome'], registers,
    });
    const rows = new Counter({ name: 'tessera_ps_rows_total', help: 'Rows pulled or pushed in successful requests.', labelNames: ['op'], registers });
    const seconds = new Histogram({
      name: 'tessera_ps_request_seconds', help: 'Time to serve a data-plane request on the PS (decoding excluded).', labelNames: ['op'], buckets: PS_REQUEST_BUCKETS_S, registers,
    });
    const pauses = new Counter({
      name: 'tessera_ps_stream_pauses_total', help: 'Times a data-plane stream stopped reading requests because its answers were not being read.',
      labelNames: ['op'], registers,
    });
    this.pull = new OpRecorder('pull', { requests, rows, seconds, pauses });
    this.push = new OpRecorder('push', { requests, rows, seconds, pauses });
    new Gauge({
      name: 'tessera_ps_table_rows', help: 'Rows resident per table (1 for a dense table).', labelNames: ['table'], registers,
      collect() {
        this.reset(); // a dropped table's series disappears
        for (const t of node.stats().tables) this.labels(t.name).set(t.rows);
      },
    });
    new Gauge({
      name: 'tessera_ps_table_bytes', help: 'Bytes of index, weights and optimizer state per table.', labelNames: ['table'], registers,
      collect() {
        this.reset();
        for (const t of node.stats().tables) this.labels(t.name).set(t.bytes);
      },
    });
    new Counter({
      name: 'tessera_ps_admissions_total', help: 'Feature admission: ids given a row (admitted) and pulled ids refused one (rejected).',
      labelNames: ['table', 'outcome'], registers,
      collect() {
        this.reset();
        for (const t of node.stats().tables) {
          if (!t.memory) continue;
          this.labels(t.name, 'admitted').inc(t.memory.admitted);
          this.labels(t.name, 'rejected').inc(t.memory.rejected);
        }
      },
    });
    new Counter({
      name: 'tessera_ps_dropped_gradient_rows_total', help: 'Pushed gradient rows dropped because their id was not admitted.',
      labelNames: ['table'], registers,
      collect() {
        this.reset();
        for (const t of node.stats().tables) if (t.memory) this.labels(t.name).inc(t.memory.droppedGradients);
      },
    });
    new Counter({
      name: 'tessera_ps_evictions_total', help: 'Rows evicted, by reason: ttl (untouched too long) or budget (LFU under the row budget).',
      labelNames: ['table', 'reason'], registers,
      collect() {
        this.reset();
        for (const t of node.stats().tables) {
          if (!t.memory) continue;
          this.labels(t.name, 'ttl').inc(t.memory.evictedTtl);
          this.labels(t.name, 'budget').inc(t.memory.evictedBudget);
        }
      },
    });
    const budget = (name: string, help: string, pick: (e: { maxRows?: number; maxBytes?: number }) => number | undefined) => new Gauge({
      name, help, labelNames: ['table'], registers,
      collect() {
        this.reset();
        for (const t of node.stats().tables) {
          const limit = t.kind === 'embedding' ? pick((node.store.spec(t.name) as { eviction?: { maxRows?: number; maxBytes?: number } }).eviction ?? {}) : undefined;
          if (limit !== undefined) this.labels(t.name).set(limit);
        }
      },
    });
    budget('tessera_ps_table_budget_rows', 'Row budget of the table (eviction.maxRows); absent when it has none.', (e) => e.maxRows);
    budget('tessera_ps_table_budget_bytes', 'Byte budget of the table (eviction.maxBytes); absent when it has none.', (e) => e.maxBytes);
    registerTierMetrics(registry, node);
    new Counter({
      name: 'tessera_ps_duplicate_pushes_total', help: 'Retried pushes acknowledged again without being applied: their first attempt was applied already.',
      registers,
      collect() {
        this.reset();
        this.inc(node.dedup.duplicates);
      },
    });
    new Gauge({
      name: 'tessera_ps_fenced', help: '1 while the PS refuses pushes (its etcd lease was lost), else 0.', registers,
      collect() {
        this.set(node.fenced ? 1 : 0);
      },
    });
  }
}
