/**
 * A Prometheus histogram exported from bucket counts its owner keeps itself, read at scrape
 * time. prom-client's Histogram can only `observe` one value at a time, which costs the hot path
 * (a disk-tier reload, thousands of rows a push); owners that count in their own fixed buckets
 * register this collector instead, and nothing touches prom-client until a scrape.
 *
 * ```ts
 * registry.registerMetric(new CountsHistogram({
 *   name: 'tessera_ps_tier_reload_seconds', help: '...', bounds: TIER_RELOAD_BUCKETS_S,
 *   read: () => [{ labels: { table: 'user' }, counts: tier.reload.counts, sum: tier.reload.sum }],
 * }) as never);
 * ```
 */
import type { MetricObjectWithValues, MetricValueWithName } from 'prom-client';

/** One labelled series: counts per bucket (not cumulative; `bounds.length + 1`, +Inf last) and the sum. */
export interface BucketSeries {
  labels: Record<string, string>;
  counts: readonly number[];
  sum: number;
}

/** What a CountsHistogram exports. */
export interface CountsHistogramOptions {
  name: string;
  help: string;
  /** Upper bounds of the finite buckets, ascending (`le`). */
  bounds: readonly number[];
  /** The series now; called at every scrape. */
  read: () => BucketSeries[];
}

/** A histogram as prom-client's registry reads a metric (`registry.registerMetric`). */
export class CountsHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';

  constructor(private readonly opts: CountsHistogramOptions) {
    this.name = opts.name;
    this.help = opts.help;
  }

  async get(): Promise<Omit<MetricObjectWithValues<MetricValueWithName<string>>, 'collect'>> {
    const { name, bounds } = this.opts;
    const values: MetricValueWithName<string>[] = [];
    for (const { labels, counts, sum } of this.opts.read()) {
      let acc = 0;
      counts.forEach((c, b) => {
        acc += c;
        values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: b < bounds.length ? bounds[b] : '+Inf' }, value: acc });
      });
      values.push({ metricName: `${name}_sum`, labels, value: sum });
      values.push({ metricName: `${name}_count`, labels, value: acc });
    }
    return { name, help: this.help, type: 'histogram' as never, aggregator: 'sum', values };
  }

  reset(): void {}
}
