/**
 * Entry point of one shard's worker thread (started by shard-threads.ts). It runs startShard with
 * its own logger, metrics registry (labelled with its shard) and TLS context, then answers the
 * main thread's messages: fence, metrics, stop. Nothing is shared with other threads but the
 * process: each shard has its own heap, tables, event loop and port, so shards take no locks.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../common/logger';
import { TesseraError } from '../common/errors';
import { createMetrics } from '../metrics/registry';
import { openTls, TlsConfig } from '../wire/tls';
import { ShardSpec, startShard } from './ps-shard';
import type { ToShard, FromShard } from './shard-messages';

/** What the main thread hands a shard thread at start. */
export interface ShardThreadData {
  spec: ShardSpec;
  logLevel: string;
  /** The job, for log and metric labels ('standalone' outside a job). */
  job: string;
  tls: TlsConfig | null;
}

async function main(port: NonNullable<typeof parentPort>, data: ShardThreadData): Promise<void> {
  const { spec } = data;
  const post = (msg: FromShard) => port.postMessage(msg);
  const logger = createLogger({ level: data.logLevel, base: { role: 'ps', nodeId: spec.id, shard: spec.shard, job: data.job } });
  const metrics = createMetrics({ job: data.job, role: 'ps', id: spec.id }, { extraLabels: { shard: String(spec.shard) } });
  const tls = data.tls ? openTls(data.tls) : null;
  const handle = await startShard(spec, { logger, registry: metrics.registry, tls: tls ?? undefined }).catch((err: unknown) => {
    tls?.close();
    const e = err as Error;
    post({ type: 'failed', message: e.message, code: err instanceof TesseraError ? err.code : undefined });
    return null;
  });
  if (!handle) return;
  port.on('message', (msg: ToShard) => {
    if (msg.type === 'fence') handle.setFenced(msg.reason);
    else if (msg.type === 'metrics') {
      metrics.registry.getMetricsAsJSON().then((json) => post({ type: 'metrics', seq: msg.seq, json }), (err: Error) => post({ type: 'metrics', seq: msg.seq, json: [], error: err.message }));
    } else if (msg.type === 'stop') {
      handle.stop().finally(() => {
        tls?.close();
        post({ type: 'stopped' });
      });
    }
  });
  post({ type: 'listening', addr: handle.addr });
}

if (parentPort) void main(parentPort, workerData as ShardThreadData);
