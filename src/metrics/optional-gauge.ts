/**
 * A gauge with no sample until it has a value. prom-client's unlabelled Gauge always exports one
 * sample (0 before the first set), which reads as a real 0: an eval AUC of 0 before any
 * evaluation. This one is absent from the exposition while its value is null.
 */
import type { MetricObjectWithValues, MetricValue, Registry } from 'prom-client';

/**
 * An unlabelled gauge that is absent while unknown.
 *
 * ```ts
 * const auc = new OptionalGauge(registry, 'tessera_job_eval_auc', 'AUC of the last evaluation.');
 * auc.set(0.78);     // exported from now on
 * auc.set(null);     // absent again
 * ```
 */
export class OptionalGauge {
  readonly type = 'gauge';
  readonly aggregator = 'sum';
  private value: number | null = null;

  constructor(registry: Registry, readonly name: string, readonly help: string) {
    registry.registerMetric(this as never);
  }

  /** The value to export, or null for none. */
  set(v: number | null): void {
    this.value = v;
  }

  /** What the registry reads at scrape time. */
  async get(): Promise<Omit<MetricObjectWithValues<MetricValue<string>>, 'collect'>> {
    const values = this.value === null ? [] : [{ labels: {}, value: this.value }];
    return { name: this.name, help: this.help, type: 'gauge' as never, aggregator: 'sum', values };
  }

  /** Part of prom-client's metric interface: forget the value. */
  reset(): void {
    this.value = null;
  }
}
