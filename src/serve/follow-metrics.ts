/**
 * The series of `tessera serve --follow` (docs/observability.md): the version each model serves,
 * how fresh the last applied delta was (its cut to servable), and deltas applied, refused (by
 * reason) and rows tombstoned. Registered only when the server follows a delta stream.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { FollowEvents } from './delta-follower';
import type { ModelRegistry } from './model-registry';

/** See the file comment. */
export class FollowMetrics {
  private readonly freshness: Gauge<string>;
  private readonly applied: Counter<string>;
  private readonly refused: Counter<string>;
  private readonly tombstoned: Counter<string>;

  /** Registers the series; `models` is read at scrape time for the served version. */
  constructor(registry: Registry, models: () => ModelRegistry | null) {
    const registers = [registry];
    new Gauge({
      name: 'tessera_serve_model_version', help: 'The version requests with no version or label reach (a full version or the newest applied delta).', labelNames: ['model'], registers,
      collect() {
        this.reset();
        for (const m of models()?.list() ?? []) {
          const v = m.defaultVersion();
          if (v) this.set({ model: m.name }, v.version);
        }
      },
    });
    this.freshness = new Gauge({ name: 'tessera_serve_freshness_seconds', help: 'Seconds from the cut of the last applied delta to its version being servable.', labelNames: ['model'], registers });
    this.applied = new Counter({ name: 'tessera_serve_deltas_applied_total', help: 'Deltas applied and swapped in.', labelNames: ['model'], registers });
    this.refused = new Counter({ name: 'tessera_serve_deltas_refused_total', help: 'Deltas refused (the last good version kept serving), by reason: gap, checksum, spec.', labelNames: ['model', 'reason'], registers });
    this.tombstoned = new Counter({ name: 'tessera_serve_rows_tombstoned_total', help: 'Rows removed by delta tombstones (they read as their cold-start value).', labelNames: ['model'], registers });
  }

  /** The follower events that feed the series. */
  events(): FollowEvents {
    return {
      onApplied: (model, _v, info) => {
        this.applied.inc({ model });
        this.tombstoned.inc({ model }, info.tombstones);
        this.freshness.set({ model }, info.freshnessSeconds);
      },
      onRefused: (model, _version, reason) => this.refused.inc({ model, reason }),
    };
  }
}
