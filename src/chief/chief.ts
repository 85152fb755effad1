/**
 * The elected chief's work, free of transport: attach the PS (shard map, tables), plan the data
 * shards, hand them out as assignments, take back those of dead workers, evaluate at the end of
 * each epoch, and finish the job. Everything it decides from lives in etcd (through JobStore,
 * Membership and the shard-map store), so a standby that takes over resumes from there.
 *
 * ```ts
 * const chief = new Chief({ id, spec, membership, store, shardMaps, connect, logger, options });
 * const result = await chief.lead();   // resolves when the job is done
 * ```
 */
import { backoffDelay, DEFAULT_BACKOFF } from '../common/backoff';
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { Logger } from '../common/logger';
import { Signal } from '../common/signal';
import type { JobStore } from '../control/job-store';
import type { Assignment, DataShard, JobResult, JobState, JobStatus } from '../control/job-types';
import type { Membership } from '../membership/membership';
import type { ShardMap } from '../sharding/shard-map';
import type { ChiefModel } from './chief-model';
import type { CheckpointJob, Checkpointer } from './checkpointer';
import { epochTotals, jobStatus } from './job-status';
import { decidePsSet, psNumber } from './ps-set';
import { planAssignments } from './scheduler';
import { restoreFromCheckpoint } from '../client/restore-checkpoint';

export interface ChiefOptions {
  /** PS count of the first shard map. */
  expectedPs: number;
  epochs: number;
  /** Plans the data shards (called once, when the job has no state yet). */
  planShards: () => Promise<DataShard[]>;
  evalPath?: string;
  /** Where the final model is saved; none: not saved. */
  modelDir?: string;
  /**
   * Model root the job publishes versions into (`ROOT/<spec name>/<version>/`): one at the end of
   * every epoch and one at the job end. None: nothing is published.
   */
  exportRoot?: string;
  /** Longest wait between reconciles when nothing changes, ms. Default 1000. */
  tickMs?: number;
  /** Least time between two status writes, ms. Default 500. */
  statusEveryMs?: number;
  /** Consistent checkpoints: at each epoch end, at the job end, and every `everyMs` while training. */
  checkpoints?: { checkpointer: Checkpointer; everyMs?: number };
  /** Restore the job from a checkpoint before leading (once: a restarted chief sees `restoredFrom`). */
  restore?: { id: string; load: (model: ChiefModel) => Promise<CheckpointJob> };
  /** Warm start: a new job begins from this checkpoint's tables and dense weights, with fresh data positions. */
  initFrom?: { root: string; id: string };
}

export interface ChiefDeps {
  id: string;
  membership: Pick<Membership, 'list' | 'watch'>;
  /** Leader-guarded: every write fails with NOT_LEADER once this chief's lease is gone. */
  store: JobStore;
  shardMaps: { get(): Promise<ShardMap | undefined>; publish(map: ShardMap, expectedPreviousVersion: number): Promise<string> };
  connect: (map: ShardMap) => ChiefModel;
  logger: Logger;
  options: ChiefOptions;
  onStatus?: (s: JobStatus) => void;
  /** Called after PS that restarted empty were restored from a checkpoint (metrics). */
  onPsRestored?: (psIds: number[], checkpoint: string) => void;
  now?: () => number;
}

export class Chief {
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly signal = new Signal();
  private psChanged = true;
  private model: ChiefModel | null = null;
  private lastStatusAt = -Infinity;
  private lastPhase = '';
  private lastLoss: number | null = null;
  private stopped = false;
  private restored = false;
  /** Incarnation of each PS (by number) at the last attach: a change means it restarted empty. */
  private readonly psIncarnations = new Map<number, string>();
  private barrierChecked = false;
  private lastCheckpointAt: number;

  constructor(private readonly deps: ChiefDeps) {
    this.log = deps.logger.child({ component: 'chief' });
    this.now = deps.now ?? Date.now;
    this.lastCheckpointAt = this.now();
  }

  /** Leads until the job is done (or `stop()`); resolves with the job's result. */
  async lead(): Promise<JobResult | undefined> {
    const { membership, store } = this.deps;
    const members = await membership.watch(undefined, (ev) => {
      if (ev.role === 'ps') this.psChanged = true;
      this.signal.notify();
    });
    const changes = await store.watch(() => this.signal.notify());
    try {
      return await this.loop();
    } finally {
      await Promise.allSettled([members.stop(), changes.stop()]);
      this.model?.close();
      this.model = null;
    }
  }

  /** Makes `lead()` return at its next wake-up. */
  stop(): void {
    this.stopped = true;
    this.signal.notify();
  }

  private async loop(): Promise<JobResult | undefined> {
    const tickMs = this.deps.options.tickMs ?? 1000;
    let failures = 0;
    while (!this.stopped) {
      try {
        const done = await this.step(tickMs);
        failures = 0;
        if (done) return done.result;
      } catch (err) {
        if (!isTransient(err)) throw err;
        const waitMs = backoffDelay({ ...DEFAULT_BACKOFF, initialMs: 200 }, failures++);
        this.log.warn({ err: (err as Error).message.split('\n')[0], waitMs }, 'etcd or a PS is unreachable; the job waits and retries');
        await this.signal.wait(waitMs);
      }
    }
    return undefined;
  }

  /** One reconcile; returns the state once the job is done. */
  private async step(tickMs: number): Promise<{ result: JobResult | undefined } | undefined> {
    {
      if (!this.barrierChecked) {
        await this.lowerAbandonedBarrier();
        this.barrierChecked = true;
      }
      if (this.psChanged && !(await this.attachPs())) {
        await this.signal.wait(tickMs);
        return undefined;
      }
      await this.restoreIfAsked();
      const snap = await this.deps.store.snapshot();
      const state = snap.state ?? await this.createState();
      const liveWorkers = async () => (await this.deps.membership.list('worker')).length;
      if (state.phase === 'done') {
        await this.publishStatus(state, snap.progress, state.shards.length, await liveWorkers(), true);
        return { result: state.result };
      }
      if (state.phase === 'eval') {
        await this.publishStatus(state, snap.progress, state.shards.length, await liveWorkers(), true);
        await this.finishEpoch(state);
        return undefined;
      }
      const workers = (await this.deps.membership.list('worker')).map((m) => ({ id: m.id, incarnation: m.incarnation }));
      const plan = planAssignments(state, workers, snap.assignments, snap.progress);
      for (const a of plan.revoke) await this.revoke(a, workers.some((w) => w.id === a.worker && w.incarnation === a.incarnation));
      for (const a of plan.assign) {
        if (await this.deps.store.assign(a)) this.log.info({ shard: a.shard, worker: a.worker, epoch: a.epoch, resumeAt: snap.progress.get(a.shard)?.next }, 'assigned data shard');
      }
      if (plan.epochDone) {
        const e = epochTotals(state, snap.progress);
        const seconds = (this.now() - Date.parse(state.epochStartedAt)) / 1000;
        this.log.info({ epoch: state.epoch, samples: e.samples, seconds }, 'epoch trained');
        await this.deps.store.putState({
          ...state, phase: 'eval', samplesBefore: state.samplesBefore + e.samples, stepsBefore: state.stepsBefore + e.steps,
          trainSecondsBefore: state.trainSecondsBefore + seconds,
        });
        return undefined;
      }
      await this.publishStatus(state, snap.progress, plan.shardsDone, workers.length, false);
      const ck = this.deps.options.checkpoints;
      if (ck?.everyMs && this.now() - this.lastCheckpointAt >= ck.everyMs) {
        // Training resumes right after the cut; the PS write their files meanwhile.
        const { id, written } = await ck.checkpointer.begin(this.signal, undefined, () => !this.psChanged);
        written.then(() => { this.lastCheckpointAt = this.now(); }, (err: Error) => this.log.error({ checkpoint: id, err: err.message }, 'checkpoint failed; the previous one stays the latest'));
        this.lastCheckpointAt = this.now();
        return undefined;
      }
      await this.signal.wait(tickMs);
      return undefined;
    }
  }

  private async revoke(a: Assignment, workerLive: boolean): Promise<void> {
    if (!(await this.deps.store.revoke(a))) return;
    const why = a.epoch !== undefined && workerLive ? 'shard finished or epoch over' : 'worker incarnation gone';
    this.log.info({ shard: a.shard, worker: a.worker, incarnation: a.incarnation, why }, 'took back data shard');
  }

  /**
   * PS that came back empty get their buckets from the latest checkpoint, so training goes on
   * without a global restart. Lost: the updates those shards took since that checkpoint.
   */
  private async recoverPs(psIds: number[]): Promise<void> {
    const ptr = this.deps.options.checkpoints ? await this.deps.store.checkpointPointer() : undefined;
    if (!ptr) {
      this.log.warn({ ps: psIds }, 'parameter servers restarted empty and there is no checkpoint: their rows start over');
      return;
    }
    const out = await restoreFromCheckpoint(this.model!.client.checkpoints, ptr.root, ptr.id, { onlyPsIds: psIds });
    const rows = out.reduce((n, r) => n + r.tables.reduce((k, t) => k + t.rows, 0), 0);
    this.log.warn({ ps: psIds, checkpoint: ptr.id, checkpointStep: ptr.step, rows },
      'parameter servers restarted empty: restored their buckets from the latest checkpoint; the updates those shards took since it are lost');
    this.deps.onPsRestored?.(psIds, ptr.id);
  }

  /** A barrier raised by a chief that died mid-checkpoint would hold the workers forever. */
  private async lowerAbandonedBarrier(): Promise<void> {
    const b = await this.deps.store.barrier();
    if (b?.phase !== 'pause') return;
    await this.deps.store.putBarrier({ id: b.id, phase: 'resume' });
    this.log.warn({ checkpoint: b.id }, 'lowered the barrier of a checkpoint the previous chief did not finish');
  }

  /** Restores the PS rows and the job state from the requested checkpoint, once per job. */
  private async restoreIfAsked(): Promise<void> {
    const r = this.deps.options.restore;
    if (!r || this.restored) return;
    const snap = await this.deps.store.snapshot();
    if (snap.state?.restoredFrom !== r.id) {
      const job = await r.load(this.model!); // restores every PS's rows for the buckets it owns now
      const state: JobState = { ...job.state, restoredFrom: r.id, epochStartedAt: new Date(this.now()).toISOString() };
      await this.deps.store.restoreJob(state, job.progress);
      this.log.info({ checkpoint: r.id, epoch: state.epoch, phase: state.phase, step: job.step, samples: job.samples }, 'job restored from checkpoint');
    }
    this.deps.options.checkpoints?.checkpointer.continueFrom(r.id);
    this.restored = true;
  }

  /** Decides and publishes the shard map, then (re)creates the tables; false while PS are missing. */
  private async attachPs(): Promise<boolean> {
    this.psChanged = false;
    const { membership, shardMaps, options } = this.deps;
    const stored = await shardMaps.get();
    const decision = decidePsSet(await membership.list('ps'), stored, options.expectedPs);
    if (decision.kind === 'wait') {
      this.log.info({ reason: decision.reason }, 'waiting for parameter servers');
      this.psChanged = true;
      return false;
    }
    const { map } = decision;
    if (decision.publish) await shardMaps.publish(map, stored?.version ?? 0);
    if (this.model?.mapVersion !== map.version) {
      this.model?.close();
      this.model = this.deps.connect(map);
    }
    const live = await membership.list('ps');
    const restarted: number[] = [];
    for (const p of map.ps) {
      const m = live.find((x) => psNumber(x.id) === p.id);
      const before = this.psIncarnations.get(p.id);
      if (m && before !== undefined && before !== m.incarnation) restarted.push(p.id);
      if (m) this.psIncarnations.set(p.id, m.incarnation);
    }
    await this.model.initTables();
    if (restarted.length > 0) await this.recoverPs(restarted);
    this.log.info({ version: map.version, ps: map.ps.map((p) => `${p.id}@${p.addr}`) }, 'parameter servers attached');
    return true;
  }

  private async createState(): Promise<JobState> {
    const { options, store } = this.deps;
    if (options.initFrom) {
      const out = await restoreFromCheckpoint(this.model!.client.checkpoints, options.initFrom.root, options.initFrom.id);
      const rows = out.reduce((n, r) => n + r.tables.reduce((k, t) => k + t.rows, 0), 0);
      this.log.info({ checkpoint: options.initFrom.id, rows }, 'warm start: tables and dense weights loaded from the checkpoint; data positions start fresh');
    }
    const shards = await options.planShards();
    const state: JobState = {
      epoch: 0, epochs: options.epochs, phase: 'train', shards, samplesBefore: 0, stepsBefore: 0, trainSecondsBefore: 0,
      epochStartedAt: new Date(this.now()).toISOString(), evals: [],
    };
    if (!(await store.createState(state))) {
      const snap = await store.snapshot();
      if (!snap.state) throw new TesseraError(ERROR_CODES.INTERNAL, 'job state vanished while it was being created');
      return snap.state;
    }
    this.log.info({ shards: shards.length, epochs: options.epochs }, 'job started');
    return state;
  }

  /** Evaluates the finished epoch, then starts the next one or finishes the job. */
  private async finishEpoch(state: JobState): Promise<void> {
    const { options, store } = this.deps;
    const model = this.model!;
    const evals = [...state.evals];
    if (options.evalPath) {
      const r = await model.evaluate(options.evalPath);
      evals.push({ epoch: state.epoch, auc: finiteOr(r.auc, 0.5), logloss: finiteOr(r.logloss, 0), rows: r.rows });
      this.log.info({ epoch: state.epoch, auc: r.auc, logloss: r.logloss, rows: r.rows }, 'evaluated');
    }
    const ck = options.checkpoints?.checkpointer;
    if (state.epoch + 1 < state.epochs) {
      await this.publishVersion(state);
      const next: JobState = { ...state, epoch: state.epoch + 1, phase: 'train', evals, epochStartedAt: new Date(this.now()).toISOString() };
      // The epoch-end checkpoint resumes into the next epoch, with no position read yet.
      if (ck) await ck.take(this.signal, () => ({ state: next, progress: [] }), () => !this.psChanged);
      this.lastCheckpointAt = this.now();
      await store.startEpoch({ ...next, epochStartedAt: new Date(this.now()).toISOString() });
      return;
    }
    if (options.modelDir) await model.save({ dir: options.modelDir }, { step: state.stepsBefore, samples: state.samplesBefore });
    const version = await this.publishVersion(state);
    const last = evals[evals.length - 1];
    const result: JobResult = {
      samples: state.samplesBefore,
      samples_per_s: state.trainSecondsBefore > 0 ? state.samplesBefore / state.trainSecondsBefore : 0,
      auc: last?.auc ?? null, logloss: last?.logloss ?? null, checkpoint: options.modelDir ?? null,
      ...(version !== undefined ? { model_version: version } : {}),
    };
    const done: JobState = { ...state, phase: 'done', evals, result };
    if (ck) {
      const out = await ck.take(this.signal, () => ({ state: done, progress: [] }), () => !this.psChanged);
      result.checkpoint = out.path; // the consistent checkpoint (tessera eval reads it); the model is also in modelDir
    }
    await store.putState({ ...done, result });
    this.log.info(result, 'job done');
  }

  /**
   * Publishes the trained model as the next version under `exportRoot`. Runs in the `eval`
   * phase, when no worker holds a data shard, so the PS rows are those of the finished epoch.
   * A chief that dies after publishing and before moving on publishes the same epoch again as
   * a newer version on takeover: versions stay monotonic, and the copy holds the same weights.
   */
  private async publishVersion(state: JobState): Promise<number | undefined> {
    const root = this.deps.options.exportRoot;
    if (!root) return undefined;
    const version = await this.model!.save({ exportRoot: root }, { step: state.stepsBefore, samples: state.samplesBefore });
    this.log.info({ epoch: state.epoch, version, root }, 'published model version');
    return version;
  }

  private async publishStatus(state: JobState, progress: JobStateProgress, shardsDone: number, workers: number, force: boolean): Promise<void> {
    const now = this.now();
    if (!force && state.phase === this.lastPhase && now - this.lastStatusAt < (this.deps.options.statusEveryMs ?? 500)) return;
    const status = jobStatus({ state, progress, shardsDone, workers, chief: this.deps.id, nowMs: now, lastLoss: this.lastLoss });
    this.lastLoss = status.loss;
    this.lastStatusAt = now;
    this.lastPhase = state.phase;
    await this.deps.store.putStatus(status);
    this.deps.onStatus?.(status);
  }
}

type JobStateProgress = Parameters<typeof epochTotals>[1];

/** Errors worth waiting out: etcd or a PS unreachable. Leadership loss and bad config are not. */
function isTransient(err: unknown): boolean {
  if (err instanceof TesseraError) return err.retryable || err.code === ERROR_CODES.UNAVAILABLE || err.code === ERROR_CODES.DEADLINE;
  // etcd3's GRPC*Error and network errors are plain Errors; programming errors and requests
  // etcd refuses as malformed (gRPC INVALID_ARGUMENT, FAILED_PRECONDITION) are not retried.
  if (!(err instanceof Error) || err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError || err instanceof SyntaxError) return false;
  return !/^(3 INVALID_ARGUMENT|9 FAILED_PRECONDITION)\b/.test(err.message);
}

function finiteOr(x: number, fallback: number): number {
  return Number.isFinite(x) ? x : fallback;
}
