/**
 * Disk-tier metrics of a PS (issue #6 part 4), read from the tables' own counters at scrape time,
 * so spills and reloads never touch prom-client:
 * - tessera_ps_tier_reloads_total{table}   counter: spilled rows loaded back on access (hits)
 * - tessera_ps_tier_misses_total{table}    counter: ids looked up on disk and not there (created fresh)
 * - tessera_ps_tier_spills_total{table}    counter: rows written to disk by budget eviction
 * - tessera_ps_tier_rows{table}            gauge: rows on disk now
 * - tessera_ps_tier_reload_seconds{table}  histogram: time to load one spilled row back
 * The histogram is read from the table's own bucket counts (TIER_RELOAD_BUCKETS_S) by a
 * CountsHistogram: prom-client's Histogram cannot be set from counts.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import { CountsHistogram } from '../metrics/counts-histogram';
import type { PsNode } from './ps-node';
import { TIER_RELOAD_BUCKETS_S } from './store/tier-rows';
import type { TableInfo } from './store/table-spec';

type TierOf = NonNullable<NonNullable<TableInfo['memory']>['tier']>;

function tiers(node: PsNode): { table: string; tier: TierOf }[] {
  const out: { table: string; tier: TierOf }[] = [];
  for (const t of node.stats().tables) if (t.memory?.tier) out.push({ table: t.name, tier: t.memory.tier });
  return out;
}

/** Registers the disk-tier series of `node` on `registry`. */
export function registerTierMetrics(registry: Registry, node: PsNode): void {
  const registers = [registry];
  const counter = (name: string, help: string, pick: (t: TierOf) => number): void => {
    new Counter({
      name, help, labelNames: ['table'], registers,
      collect() {
        this.reset();
        for (const { table, tier } of tiers(node)) this.labels(table).inc(pick(tier));
      },
    });
  };
  counter('tessera_ps_tier_reloads_total', 'Spilled rows loaded back from the disk tier on access (tier hits).', (t) => t.hits);
  counter('tessera_ps_tier_misses_total', 'Ids looked up in the disk tier and not found there (created fresh).', (t) => t.misses);
  counter('tessera_ps_tier_spills_total', 'Rows spilled to the disk tier by budget eviction.', (t) => t.spills);
  new Gauge({
    name: 'tessera_ps_tier_rows', help: 'Rows held in the disk tier per table.', labelNames: ['table'], registers,
    collect() {
      this.reset();
      for (const { table, tier } of tiers(node)) this.labels(table).set(tier.rows);
    },
  });
  registry.registerMetric(new CountsHistogram({
    name: 'tessera_ps_tier_reload_seconds', help: 'Time to load one spilled row back from the disk tier into RAM.', bounds: TIER_RELOAD_BUCKETS_S,
    read: () => tiers(node).map(({ table, tier }) => ({ labels: { table }, counts: tier.reload.counts, sum: tier.reload.sum })),
  }) as never);
}
