/**
 * A cluster worker's main loop, free of transport: follow the shard map, read the job state and
 * this worker's assignments from the JobStore, and train each assigned shard (shard-trainer.ts).
 * It returns when the job is done or it is stopped.
 *
 * Faults: any error while training a shard (a PS restarting, a table not yet recreated) is
 * logged with what the worker waits for, the PS client is rebuilt, and the shard is retried from
 * its last committed position with backoff. A non-finite loss is fatal: retrying would diverge
 * again.
 */
import { backoffDelay, DEFAULT_BACKOFF, BackoffOptions } from '../common/backoff';
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { Logger } from '../common/logger';
import { Signal } from '../common/signal';
import type { JobStore } from '../control/job-store';
import type { Assignment, JobState } from '../control/job-types';
import type { StalenessCounts } from '../control/push-staleness';
import { schemaFor } from '../data/record';
import type { ShardMap } from '../sharding/shard-map';
import type { JobSpec } from '../spec/types';
import { buildJob } from './job';
import type { WorkerParams } from './param-access';
import { BarrierGate } from './barrier-gate';
import { gatedParams } from './gated-params';
import { ShardLostError, trainShard } from './shard-trainer';
import type { StepInfo, Trainer } from './trainer';

export interface WorkerRoleDeps {
  id: string;
  /** The registration's current incarnation (it changes after a re-registration). */
  incarnation: () => string;
  spec: JobSpec;
  store: JobStore;
  shardMaps: { watch(onMap: (m: ShardMap) => void): Promise<{ initial: ShardMap | undefined; stop(): Promise<void> }> };
  connect: (map: ShardMap) => WorkerParams;
  logger: Logger;
  commitEveryMs?: number;
  onStep?: (s: StepInfo) => void;
  /** Malformed lines skipped (metrics). */
  onBadLines?: (n: number) => void;
  /** Training a data shard failed and will be retried (metrics). */
  onShardFailure?: () => void;
  /** The worker's push-staleness counts so far, committed with each shard's progress (status p99). */
  staleness?: () => StalenessCounts;
  backoff?: BackoffOptions;
}

export class WorkerRole {
  private readonly log: Logger;
  private readonly signal = new Signal();
  private map: ShardMap | undefined;
  private conn: { version: number; params: WorkerParams; trainer: Trainer } | null = null;
  private stopped = false;
  private failures = 0;
  private barrier: BarrierGate | null = null;
  /** Throttles counted by connections closed since (the counter must not go back). */
  private throttlesBefore = 0;

  constructor(private readonly deps: WorkerRoleDeps) {
    this.log = deps.logger.child({ component: 'worker' });
  }

  stop(): void {
    this.stopped = true;
    this.signal.notify();
  }

  /** Push-window figures of the current PS connection, for metrics (push staleness). */
  get inflightPushes(): number {
    return this.conn?.params.inflightPushes ?? 0;
  }

  get pushThrottles(): number {
    return this.throttlesBefore + (this.conn?.params.pushThrottles ?? 0);
  }

  /** Trains assigned shards until the job is done ('done') or stop() ('stopped'). */
  async run(): Promise<'done' | 'stopped'> {
    const maps = await this.deps.shardMaps.watch((m) => {
      this.map = m;
      this.signal.notify();
    });
    this.map ??= maps.initial;
    const changes = await this.deps.store.watch(() => this.signal.notify());
    this.barrier = new BarrierGate({ store: this.deps.store, worker: this.deps.id, incarnation: this.deps.incarnation, logger: this.log, onChange: () => this.signal.notify() });
    await this.barrier.start();
    try {
      return await this.loop();
    } finally {
      await Promise.allSettled([maps.stop(), changes.stop(), this.barrier.stop()]);
      this.conn?.params.close();
      this.conn = null;
    }
  }

  private async loop(): Promise<'done' | 'stopped'> {
    let waitingFor = '';
    const waiting = (what: string) => {
      if (what !== waitingFor) this.log.info(`waiting for ${what}`);
      waitingFor = what;
    };
    while (!this.stopped) {
      let snap;
      try {
        snap = await this.deps.store.snapshot();
      } catch (err) {
        waiting(`etcd (${(err as Error).message.split('\n')[0]})`);
        await this.signal.wait(this.retryMs());
        continue;
      }
      const state = snap.state;
      if (state?.phase === 'done') return 'done';
      // Not training a shard: nothing to settle, acknowledge a pause at once.
      if (this.barrier?.pauseRequested) { await this.barrier.holdIfPaused(async () => undefined, () => this.stopped); continue; }
      if (!this.map) { waiting('the shard map'); await this.signal.wait(1000); continue; }
      if (!state) { waiting('the chief to start the job'); await this.signal.wait(1000); continue; }
      const mine = [...snap.assignments.values()]
        .filter((a) => a.worker === this.deps.id && a.incarnation === this.deps.incarnation() && a.epoch === state.epoch)
        .sort((x, y) => x.shard - y.shard);
      if (mine.length === 0) { waiting(state.phase === 'train' ? 'a data shard' : `the chief to finish ${state.phase}`); await this.signal.wait(1000); continue; }
      waitingFor = '';
      for (const a of mine) {
        if (this.stopped) break;
        await this.runShard(a, state, snap.progress.get(a.shard));
      }
    }
    return 'stopped';
  }

  private async runShard(a: Assignment, state: JobState, committed: Parameters<typeof trainShard>[3]): Promise<void> {
    try {
      const { params, trainer } = await this.connection();
      const { spec } = this.deps;
      await trainShard({
        workerId: this.deps.id, store: this.deps.store, params, trainer, schema: schemaFor(spec.data.format),
        batchSize: spec.training.batchSize, maxErrorRate: spec.data.maxErrorRate, commitEveryMs: this.deps.commitEveryMs ?? 1000,
        logger: this.log, stopping: () => this.stopped, barrier: this.barrier ?? undefined, onBadLines: this.deps.onBadLines,
        staleness: this.deps.staleness,
      }, a, state.shards[a.shard], committed);
      this.failures = 0;
    } catch (err) {
      if (err instanceof ShardLostError) {
        this.log.warn({ shard: a.shard }, 'data shard was taken back; dropping it');
        return;
      }
      this.deps.onShardFailure?.();
      if (err instanceof TesseraError && (err.code === ERROR_CODES.NON_FINITE || err.code === ERROR_CODES.CONFIG)) throw err;
      const waitMs = this.retryMs();
      this.failures++;
      this.log.warn({ shard: a.shard, err: (err as Error).message, waitMs },
        'training the data shard failed (a PS may be restarting); reconnecting and resuming from the last committed position');
      this.dropConnection();
      await this.signal.wait(waitMs);
    }
  }

  private dropConnection(): void {
    if (!this.conn) return;
    this.throttlesBefore += this.conn.params.pushThrottles ?? 0;
    this.conn.params.close();
    this.conn = null;
  }

  private retryMs(): number {
    return backoffDelay(this.deps.backoff ?? { ...DEFAULT_BACKOFF, initialMs: 200 }, this.failures);
  }

  /** The PS client and trainer for the current shard map, (re)built when the map changed. */
  private async connection(): Promise<{ params: WorkerParams; trainer: Trainer }> {
    const map = this.map!;
    if (this.conn && this.conn.version === map.version) return this.conn;
    this.dropConnection();
    const raw = this.deps.connect(map);
    const params = this.barrier ? gatedParams(raw, this.barrier, () => this.stopped) : raw;
    const { trainer } = buildJob(this.deps.spec, params, this.deps.logger, this.deps.onStep);
    try {
      await trainer.init();
    } catch (err) {
      params.close();
      throw err;
    }
    this.conn = { version: map.version, params, trainer };
    this.log.info({ version: map.version }, 'connected to the parameter servers');
    return this.conn;
  }
}
