/**
 * One Prometheus registry per component (no process-global default registry), so
 * several PS nodes and a worker can live in one process (tests, `tessera train`) without their
 * series colliding. Every series carries the `tessera_job`, `role` and `id` labels of its owner.
 * The job's label is `tessera_job`, not `job`: `job` is the label Prometheus itself sets on every
 * target (the scrape config's job name), and a colliding exported `job` comes back renamed to
 * `exported_job`.
 */
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { ProcessRole } from '../common/roles';
import { registerMemoryLimit } from './memory-limit';

/** prom-client default metrics that are gauges despite their `_total` names. */
const NON_COUNTER_TOTALS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** Who owns a registry; stamped on every series as `tessera_job`, `role` and `id`. */
export interface MetricsLabels {
  /** The Tessera job name (label `tessera_job`). */
  job: string;
  role: ProcessRole;
  id: string;
}

/** A registry and the labels it stamps on every series. */
export interface Metrics {
  readonly registry: Registry;
  readonly labels: Readonly<MetricsLabels>;
}

/** Options for createMetrics. */
export interface CreateMetricsOptions {
  /**
   * Also collect prom-client's process metrics (CPU, heap, event-loop lag, GC) and
   * `tessera_process_memory_limit_bytes`. Off by default:
   * they start timers and observers, which tests with several registries do not need.
   */
  processMetrics?: boolean;
  /** More labels stamped on every series, e.g. `{ shard: '1' }` for one shard of a PS process. */
  extraLabels?: Readonly<Record<string, string>>;
}

/**
 * Creates a fresh registry labelled `{ tessera_job, role, id }`.
 *
 * ```ts
 * const metrics = createMetrics({ job: 'ctr', role: 'ps', id: 'ps-0' }, { processMetrics: true });
 * const psMetrics = new PsMetrics(metrics.registry, node);
 * const http = await serveMetrics(metrics.registry, { port: 0 });
 * ```
 */
export function createMetrics(labels: MetricsLabels, opts: CreateMetricsOptions = {}): Metrics {
  const registry = new Registry();
  const frozen = Object.freeze({ ...labels });
  registry.setDefaultLabels({ ...opts.extraLabels, tessera_job: frozen.job, role: frozen.role, id: frozen.id });
  if (opts.processMetrics) {
    collectDefaultMetrics({ register: registry });
    // prom-client exports these sums as gauges named `_total`, which promtool flags (a `_total`
    // series must be a counter); the same figures remain, per type, in nodejs_active_handles,
    // nodejs_active_requests and nodejs_active_resources.
    for (const name of NON_COUNTER_TOTALS) registry.removeSingleMetric(name);
    registerMemoryLimit(registry);
  }
  return { registry, labels: frozen };
}
