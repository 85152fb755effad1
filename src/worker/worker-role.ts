/**
 * A cluster worker's main loop, free of transport: follow the shard map, read the job state and
 * this worker's assignments from the JobStore, and train each assigned shard (shard-trainer.ts).
 * It returns when the job is done or it is stopped.
 *
 * Faults: any error while training a shard (a PS restarting) is logged with what the worker
 * waits for, the PS client is rebuilt, and the shard is retried from its last committed position
 * with backoff. A non-finite loss is fatal: retrying would diverge again. A data shard that cannot
 * be read (a missing file, more malformed lines than the spec allows) is reported to the chief
 * (`faults/<worker>`, kind `data`), which fails the job: every worker would meet the same bytes.
 *
 * Tables are the chief's: the worker never creates one. It sends every table's incarnation, as
 * the chief recorded it, with each request; a PS whose table was dropped (or dropped and created
 * again), or that serves a shard map the worker does not know, is reported to the chief
 * (`faults/<worker>`), and the worker pushes nothing more until the chief has repaired the PS
 * and published new incarnations or a new map. A job the chief failed ends the worker ('failed').
 */
import { backoffDelay, DEFAULT_BACKOFF, BackoffOptions } from '../common/backoff';
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { Logger } from '../common/logger';
import { Signal } from '../common/signal';
import type { JobStore } from '../control/job-store';
import { isStreamJob } from '../control/job-types';
import type { Assignment, JobFailure, JobState, TableRecord } from '../control/job-types';
import type { StreamLog } from '../stream/stream-log';
import { trainPartitions } from './partition-trainer';
import type { JobSnapshot } from '../control/job-store';
import type { StalenessCounts } from '../control/push-staleness';
import { asDataError } from '../data/data-errors';
import { schemaFor } from '../data/record';
import type { ShardMap } from '../sharding/shard-map';
import type { JobSpec } from '../spec/types';
import type { WorkerParams } from './param-access';
import type { StepPositions } from '../control/step-positions';
import type { DataThreadInit } from './data-thread';
import type { DataThreadSession } from './data-thread-session';
import { jobPushWindow, workersTraining } from './job-push-window';
import { openConnection, threaded, WorkerConnection } from './worker-connection';
import { ShardLostError, trainShard } from './shard-trainer';
import type { StepInfo } from './trainer';

export interface WorkerRoleDeps {
  id: string;
  /** The registration's current incarnation (it changes after a re-registration). */
  incarnation: () => string;
  spec: JobSpec;
  store: JobStore;
  shardMaps: { watch(onMap: (m: ShardMap) => void): Promise<{ initial: ShardMap | undefined; stop(): Promise<void> }> };
  /** A PS client for `map` that sends the table incarnations of `tables` with every request. */
  connect: (map: ShardMap, tables: TableRecord) => WorkerParams;
  /**
   * Starts a data thread whose PS client is like `connect`'s (worker-connection.ts); used when
   * the spec's `training.data_thread` is on. Absent: the data path always runs on this thread.
   */
  startDataThread?: (init: Pick<DataThreadInit, 'reads' | 'shardMap' | 'tables' | 'tagSteps'>) => DataThreadSession;
  logger: Logger;
  commitEveryMs?: number;
  onStep?: (s: StepInfo) => void;
  /** Malformed lines skipped (metrics). */
  onBadLines?: (n: number) => void;
  /** Training a data shard failed and will be retried (metrics). */
  onShardFailure?: () => void;
  /**
   * Live workers of the job (membership), read at every push: workers training at once share
   * one job-wide push budget (job-push-window.ts). Absent: the workers holding assignments.
   */
  liveWorkers?: () => number;
  /** The worker's push-staleness counts so far, committed with each shard's progress (status p99). */
  staleness?: () => StalenessCounts;
  backoff?: BackoffOptions;
  /** Opens the event log of a stream job's partition URL (redis-stream://…); absent: file jobs only. */
  openStream?: (partitionUrl: string) => StreamLog;
  /**
   * Where this worker's data stands after the step being pushed, which its pushes carry (ADR
   * 0040; `connect`'s client numbers the steps over `positions.encode()`). Set before each
   * step's push; a data thread gets them with each step's gradients. Absent: untagged pushes.
   */
  positions?: StepPositions;
}

/**
 * A stream pass waits this long for a new entry before it ends (ms): the longest a drained
 * worker takes to notice a new partition or its stop.
 */
export const STREAM_BLOCK_MS = 500;
/** Longest stream pass (ms): how soon a busy worker notices partitions handed to it. */
export const STREAM_ROUND_MS = 5_000;

export class WorkerRole {
  private readonly log: Logger;
  private readonly signal = new Signal();
  private map: ShardMap | undefined;
  private conn: { version: number; generation: number; stream: boolean; c: WorkerConnection } | null = null;
  /** After a reported fault: wait for a new map or tables generation (or `until`) before training again. */
  private blocked: { mapVersion: number; generation: number; until: number } | null = null;
  /** Why the job failed, once run() returned 'failed'. */
  failure: JobFailure | undefined;
  private stopped = false;
  private failures = 0;
  /** Workers holding assignments in the epoch, as of the last snapshot. */
  private trainingWorkers = 1;
  /** The push window last logged. */
  private loggedWindow: number | null = null;
  /** Throttles counted by connections closed since (the counter must not go back). */
  private throttlesBefore = 0;

  constructor(private readonly deps: WorkerRoleDeps) {
    this.log = deps.logger.child({ component: 'worker' });
  }

  stop(): void {
    this.stopped = true;
    this.signal.notify();
  }

  /** The stream log of a stream job's partitions, opened at the first pass. */
  private stream: StreamLog | undefined;

  /** Push-window figures of the current PS connection, for metrics (push staleness). */
  get inflightPushes(): number {
    return this.conn?.c.pushes.inflightPushes ?? 0;
  }

  get pushThrottles(): number {
    return this.throttlesBefore + (this.conn?.c.pushes.pushThrottles ?? 0);
  }

  /** Trains assigned shards until the job is done ('done'), failed ('failed', see `failure`) or stop() ('stopped'). */
  async run(): Promise<'done' | 'stopped' | 'failed'> {
    const maps = await this.deps.shardMaps.watch((m) => {
      this.map = m;
      this.signal.notify();
    });
    this.map ??= maps.initial;
    const changes = await this.deps.store.watch(() => this.signal.notify());
    try {
      return await this.loop();
    } finally {
      await Promise.allSettled([maps.stop(), changes.stop()]);
      this.dropConnection();
      await this.stream?.close();
    }
  }

  private async loop(): Promise<'done' | 'stopped' | 'failed'> {
    let waitingFor = '';
    const waiting = (what: string) => {
      if (what !== waitingFor) this.log.info(`waiting for ${what}`);
      waitingFor = what;
    };
    while (!this.stopped) {
      let snap: JobSnapshot;
      try {
        snap = await this.deps.store.snapshot();
      } catch (err) {
        waiting(`etcd (${(err as Error).message.split('\n')[0]})`);
        await this.signal.wait(this.retryMs());
        continue;
      }
      const state = snap.state;
      if (state?.phase === 'done') return 'done';
      if (state?.phase === 'failed') {
        this.failure = state.failure;
        return 'failed';
      }
      const why = this.notReady(snap);
      if (why) { waiting(why); await this.signal.wait(this.blocked ? Math.max(1, this.blocked.until - Date.now()) : 1000); continue; }
      const mine = [...snap.assignments.values()]
        .filter((a) => a.worker === this.deps.id && a.incarnation === this.deps.incarnation() && a.epoch === state!.epoch)
        .sort((x, y) => x.shard - y.shard);
      if (mine.length === 0) { waiting(state!.phase === 'train' ? 'a data shard' : `the chief to finish ${state!.phase}`); await this.signal.wait(1000); continue; }
      waitingFor = '';
      this.trainingWorkers = workersTraining(snap.assignments.values(), state!.epoch);
      if (isStreamJob(state!)) {
        await this.runPartitions(mine, state!, snap.progress, snap.tables!);
        continue;
      }
      for (const a of mine) {
        if (this.stopped) break;
        await this.runShard(a, state!, snap.progress.get(a.shard), snap.tables!);
      }
    }
    return 'stopped';
  }

  /** What the worker waits for before it may train, or undefined when it may. */
  private notReady(snap: JobSnapshot): string | undefined {
    if (!this.map) return 'the shard map';
    if (!snap.state) return 'the chief to start the job';
    const tables = snap.tables;
    if (!tables || tables.mapVersion !== this.map.version) return `the chief to create the tables for shard map ${this.map.version}`;
    const b = this.blocked;
    if (b && b.mapVersion === this.map.version && b.generation === tables.generation && Date.now() < b.until) {
      return 'the chief to repair the parameter servers';
    }
    this.blocked = null;
    return undefined;
  }

  private async runShard(a: Assignment, state: JobState, committed: Parameters<typeof trainShard>[3], tables: TableRecord): Promise<void> {
    try {
      const { steps } = await this.connection(tables, false);
      await trainShard({
        workerId: this.deps.id, store: this.deps.store, steps, maxErrorRate: this.deps.spec.data.maxErrorRate, commitEveryMs: this.deps.commitEveryMs ?? 1000,
        logger: this.log, stopping: () => this.stopped, onBadLines: this.deps.onBadLines,
        staleness: this.deps.staleness, positions: this.deps.positions,
      }, a, state.shards[a.shard], committed);
      this.failures = 0;
    } catch (err) {
      await this.trainingFailed(err, a.shard, state.shards[a.shard].path, tables);
    }
  }

  /** Trains this worker's stream partitions for one pass (partition-trainer.ts). */
  private async runPartitions(mine: Assignment[], state: JobState, progress: JobSnapshot['progress'], tables: TableRecord): Promise<void> {
    const { spec, openStream } = this.deps;
    if (!openStream) throw new TesseraError(ERROR_CODES.CONFIG, 'this worker cannot read a stream job\'s partitions (no stream source configured)');
    try {
      const { params, trainer } = (await this.connection(tables, true)).inThread!;
      this.stream ??= openStream(state.shards[mine[0].shard].path);
      await trainPartitions({
        workerId: this.deps.id, store: this.deps.store, params, trainer, log: this.stream, schema: schemaFor(spec.data.format),
        batchSize: spec.training.batchSize, commitEveryMs: this.deps.commitEveryMs ?? 1000, blockMs: STREAM_BLOCK_MS, roundMs: STREAM_ROUND_MS,
        logger: this.log, stopping: () => this.stopped, onBadLines: this.deps.onBadLines,
        positions: this.deps.positions,
      }, mine, state.shards, progress);
      this.failures = 0;
    } catch (err) {
      await this.trainingFailed(err, mine[0].shard, state.shards[mine[0].shard].path, tables);
    }
  }

  /** Training a data shard (or partitions) failed: drop it, report a fault, or back off and retry from the last commit. */
  private async trainingFailed(err: unknown, shard: number, path: string, tables: TableRecord): Promise<void> {
    if (err instanceof ShardLostError) {
      this.log.warn({ shard: err.shard }, 'data shard was taken back; dropping it');
      return;
    }
    this.deps.onShardFailure?.();
    if (err instanceof TesseraError && (err.code === ERROR_CODES.NON_FINITE || err.code === ERROR_CODES.CONFIG)) throw err;
    const waitMs = this.retryMs();
    this.failures++;
    const bad = asDataError(err, path);
    if (bad) {
      await this.reportDataFault(bad, waitMs);
      return;
    }
    this.dropConnection();
    if (isPsFault(err)) {
      await this.reportFault(err, tables, waitMs);
      return;
    }
    this.log.warn({ shard, err: (err as Error).message, waitMs },
      'training the data shard failed (a PS or the stream may be restarting); reconnecting and resuming from the last committed position');
    await this.signal.wait(waitMs);
  }

  /**
   * A PS is not as the chief published it: stop using it, tell the chief, and wait for a new map
   * or tables generation (or the backoff, should the chief find nothing wrong).
   */
  private async reportFault(err: TesseraError, tables: TableRecord, waitMs: number): Promise<void> {
    const map = this.map!;
    const kind = err.code === ERROR_CODES.STALE_SHARD_MAP ? 'shard-map' : 'table';
    const ps = /^(\S+?):\s/.exec(err.message)?.[1] ?? 'unknown';
    this.log.warn({ err: err.message, kind, ps, mapVersion: map.version, tables: tables.generation },
      'a parameter server is not as the chief published it; stopped pushing to it and reported it to the chief');
    this.blocked = { mapVersion: map.version, generation: tables.generation, until: Date.now() + waitMs };
    await this.deps.store.reportFault({
      worker: this.deps.id, kind, ps, generation: tables.generation, mapVersion: map.version, message: err.message, at: new Date().toISOString(),
    }).catch((e: Error) => this.log.warn({ err: e.message }, 'could not report the fault to etcd; the chief finds it on its own check'));
  }

  /**
   * The data shard cannot be used: tell the chief, which fails the job with `err`'s reason; the
   * next snapshot then shows the job failed. Until then the worker waits (the report is repeated
   * with backoff should the chief not have seen it).
   */
  private async reportDataFault(err: TesseraError, waitMs: number): Promise<void> {
    const map = this.map!;
    this.log.error({ err: err.message }, 'cannot use the data shard; reported to the chief, which fails the job');
    await this.deps.store.reportFault({
      worker: this.deps.id, kind: 'data', ps: '', generation: 0, mapVersion: map.version, message: err.message, at: new Date().toISOString(),
    }).catch((e: Error) => this.log.warn({ err: e.message }, 'could not report the data fault to etcd; trying again'));
    await this.signal.wait(waitMs);
  }

  /** This worker's share of the job-wide push budget now (read at every push); logs a change. */
  private pushWindow(): number {
    const workers = Math.max(this.deps.liveWorkers?.() ?? 1, this.trainingWorkers);
    const window = jobPushWindow(this.deps.spec.training.maxInflightPushes, workers);
    if (window !== this.loggedWindow) {
      this.loggedWindow = window;
      this.log.info({ workers, maxInflightPushes: window }, 'pushes in flight per worker, shared with the other workers');
    }
    return window;
  }

  private dropConnection(): void {
    if (!this.conn) return;
    this.throttlesBefore += this.conn.c.pushes.pushThrottles;
    this.conn.c.close();
    this.conn = null;
  }

  private retryMs(): number {
    return backoffDelay(this.deps.backoff ?? { ...DEFAULT_BACKOFF, initialMs: 200 }, this.failures);
  }

  /**
   * The connection for the current shard map and tables, (re)built when either changed or it
   * died; threaded per `training.data_thread` (worker-connection.ts), never for a stream pass.
   */
  private async connection(tables: TableRecord, stream: boolean): Promise<WorkerConnection> {
    const map = this.map!;
    const c = this.conn;
    if (c && c.version === map.version && c.generation === tables.generation && c.stream === stream && c.c.alive()) return c.c;
    this.dropConnection();
    const { spec, logger, onStep, startDataThread, positions } = this.deps;
    const conn = await openConnection({
      spec, logger, onStep, stopping: () => this.stopped, pushWindow: () => this.pushWindow(),
      connect: () => this.deps.connect(map, tables), positions,
      ...(startDataThread ? { startDataThread: (init: Pick<DataThreadInit, 'reads'>) => startDataThread({ ...init, shardMap: map, tables, tagSteps: positions !== undefined }) } : {}),
    }, stream);
    this.conn = { version: map.version, generation: tables.generation, stream, c: conn };
    this.log.info({ version: map.version, tables: tables.generation, dataThread: threaded(this.deps, stream) }, 'connected to the parameter servers');
    return conn;
  }
}

/** A PS answer that means it is not as the chief published it (not a PS restarting). */
function isPsFault(err: unknown): err is TesseraError {
  return err instanceof TesseraError
    && (err.code === ERROR_CODES.TABLE_INCARNATION || err.code === ERROR_CODES.UNKNOWN_TABLE || err.code === ERROR_CODES.STALE_SHARD_MAP);
}
