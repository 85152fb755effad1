/**
 * The messages between a PS process's main thread and its shard threads (shard-threads.ts,
 * shard-thread.ts). Structured-clone data only.
 */
import type { MetricObjectWithValues, MetricValue } from 'prom-client';

/** One metric family as prom-client's getMetricsAsJSON gives it. */
export type MetricJson = MetricObjectWithValues<MetricValue<string>>;

/** Main thread → shard. */
export type ToShard =
  | { type: 'fence'; reason: string | null }
  | { type: 'metrics'; seq: number }
  | { type: 'stop' };

/** Shard → main thread. */
export type FromShard =
  | { type: 'listening'; addr: string }
  | { type: 'failed'; message: string; code?: string }
  | { type: 'metrics'; seq: number; json: MetricJson[]; error?: string }
  | { type: 'stopped' };
