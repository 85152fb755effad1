/**
 * The main-thread side of a PS process with several shards: one worker thread per shard
 * (shard-thread.ts), each a ShardHandle here. A shard thread that dies after it started takes the
 * process down (`onCrash`), as a crashed PS would: its rows are gone, and the supervisor (Kubernetes,
 * `tessera local`) restarts the whole process, whose shards re-register under the same ids.
 *
 * ```ts
 * const pool = await startShardThreads(specs, { logLevel: 'info', job: 'ctr', tls: null, logger, onCrash });
 * pool.shards[1].setFenced('lease lost');
 * const text = await pool.metricsText(rt.metrics.registry);
 * await pool.stop();
 * ```
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { AggregatorRegistry, Registry } from 'prom-client';
import { ERROR_CODES, ErrorCode, TesseraError } from '../common/errors';
import type { Logger } from '../common/logger';
import type { TlsConfig } from '../wire/tls';
import type { ShardHandle, ShardSpec } from './ps-shard';
import type { FromShard, MetricJson, ToShard } from './shard-messages';
import type { ShardThreadData } from './shard-thread';

/** The shards of one process, each on its own thread. */
export interface ShardThreads {
  readonly shards: readonly ShardHandle[];
  /**
   * The Prometheus text of `main` (process-wide series) and of every shard (its series carry
   * `shard` and its own `id`), as one exposition.
   */
  metricsText(main: Registry): Promise<string>;
  /** Stops every shard (gracefully, in parallel), then ends their threads. */
  stop(): Promise<void>;
}

/** How the shard threads start. */
export interface ShardThreadOptions {
  logLevel: string;
  job: string;
  tls: TlsConfig | null;
  logger: Logger;
  /** Called when a started shard's thread dies; the process should exit. */
  onCrash(shard: number, err: Error): void;
}

/** One started shard thread and the replies it owes. */
class ShardThread implements ShardHandle {
  private seq = 0;
  private readonly pending = new Map<number, (json: MetricJson[]) => void>();
  private stopped: (() => void) | null = null;
  private stopping = false;

  constructor(readonly shard: number, readonly id: string, readonly addr: string, private readonly worker: Worker, opts: ShardThreadOptions) {
    worker.on('message', (msg: FromShard) => {
      if (msg.type === 'metrics') {
        this.pending.get(msg.seq)?.(msg.json);
        this.pending.delete(msg.seq);
      } else if (msg.type === 'stopped') this.stopped?.();
    });
    const died = (err: Error) => { if (!this.stopping) opts.onCrash(shard, err); };
    worker.on('error', died);
    worker.on('exit', (code) => died(new Error(`shard thread exited with code ${code}`)));
  }

  setFenced(reason: string | null): void {
    this.post({ type: 'fence', reason });
  }

  metricsJson(): Promise<MetricJson[]> {
    const seq = ++this.seq;
    return new Promise((resolve) => {
      this.pending.set(seq, resolve);
      this.post({ type: 'metrics', seq });
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await new Promise<void>((resolve) => {
      this.stopped = resolve;
      this.worker.once('exit', () => resolve());
      this.post({ type: 'stop' });
    });
    // grpc-js and timers may keep the thread's loop alive after its server stopped.
    await this.worker.terminate();
  }

  private post(msg: ToShard): void {
    this.worker.postMessage(msg);
  }
}

/** Starts one thread per spec; resolves once every shard listens, rejects (and stops the rest) if one fails. */
export async function startShardThreads(specs: readonly ShardSpec[], opts: ShardThreadOptions): Promise<ShardThreads> {
  const started = await Promise.allSettled(specs.map((spec) => startThread(spec, opts)));
  const shards = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.all(shards.map((s) => s.stop()));
    throw failed.reason;
  }
  return {
    shards,
    metricsText: async (main) => {
      const all = await Promise.all([main.getMetricsAsJSON(), ...shards.map((s) => s.metricsJson())]);
      return AggregatorRegistry.aggregate(all).metrics();
    },
    stop: async () => { await Promise.all(shards.map((s) => s.stop())); },
  };
}

function startThread(spec: ShardSpec, opts: ShardThreadOptions): Promise<ShardThread> {
  const data: ShardThreadData = { spec, logLevel: opts.logLevel, job: opts.job, tls: opts.tls };
  const worker = new Worker(path.join(__dirname, 'shard-thread.js'), { workerData: data });
  return new Promise((resolve, reject) => {
    const early = (err: Error) => reject(new TesseraError(ERROR_CODES.INTERNAL, `shard ${spec.shard} (${spec.id}) failed to start: ${err.message}`));
    const onExit = (code: number) => early(new Error(`its thread exited with code ${code}`));
    worker.once('error', early).once('exit', onExit);
    worker.once('message', (msg: FromShard) => {
      worker.off('error', early).off('exit', onExit);
      if (msg.type === 'listening') resolve(new ShardThread(spec.shard, spec.id, msg.addr, worker, opts));
      else {
        void worker.terminate();
        // The shard's own error, rebuilt: a Tessera code or the OS's text (a port in use) reads as one line.
        if (msg.type !== 'failed') reject(new TesseraError(ERROR_CODES.INTERNAL, `shard ${spec.shard} sent ${msg.type} before listening`));
        else reject(msg.code ? new TesseraError(msg.code as ErrorCode, msg.message) : new Error(msg.message));
      }
    });
  });
}
