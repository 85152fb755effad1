/**
 * One Prometheus registry per component (no process-global default registry), so
 * several PS nodes and a worker can live in one process (tests, `tessera train`) without their
 * series colliding. Every series carries the `job`, `role` and `id` labels of its owner.
 */
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { ProcessRole } from '../common/roles';

/** Labels added to every series of a registry. */
export interface MetricsLabels {
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
   * Also collect prom-client's process metrics (CPU, heap, event-loop lag, GC). Off by default:
   * they start timers and observers, which tests with several registries do not need.
   */
  processMetrics?: boolean;
}

/**
 * Creates a fresh registry labelled `{ job, role, id }`.
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
  registry.setDefaultLabels({ ...frozen });
  if (opts.processMetrics) collectDefaultMetrics({ register: registry });
  return { registry, labels: frozen };
}
