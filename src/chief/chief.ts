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
import { isStreamJob } from '../control/job-types';
import type { Assignment, DataShard, JobFailure, JobResult, JobState, JobStatus, PsFault, TableRecord } from '../control/job-types';
import type { Membership, MembershipEvent } from '../membership/membership';
import type { RawRow } from '../data/record';
import type { ShardMap } from '../sharding/shard-map';
import type { ChiefModel } from './chief-model';
import type { ModelTargets } from '../worker/model-export';
import type { CheckpointErrorPolicy } from './checkpoint-args';
import type { CheckpointJob, Checkpointer } from './checkpointer';
import type { DeltaPublisher } from './delta-publisher';
import { isFatalCode, jobFatal, isTransient, JobFailedError, needsReattach } from './job-failure';
import { earlyStopDecision } from '../eval/early-stopping';
import type { EarlyStopConfig } from '../eval/early-stopping';
import { epochTotals, finishedSamplesPerS, jobStatus } from './job-status';
import { allWell } from './ps-audit';
import { isPlannedExit, PsGuard, PsGuardEvents } from './ps-guard';
import { decidePsSet } from './ps-set';
import { MigrationDriver, MigrationDriverDeps } from './migration-driver';
import { BuddyKeeper, BuddyKeeperDeps } from './buddy-keeper';
import { PsChanges } from './ps-change-race';
import { planAssignments } from './scheduler';
import { planPartitionAssignments } from './partition-scheduler';
import { restoreFromCheckpoint } from '../client/restore-checkpoint';

/** How a job that the chief led to its end ended. */
export type ChiefOutcome = { result: JobResult | undefined } | { failure: JobFailure };

/** Stream evaluations kept in the job state (older ones are in the chief's log). */
export const STREAM_EVALS_KEPT = 100;

/** Least time between two checks that every PS is as published (shard-map version, table incarnations). */
export const PS_CHECK_EVERY_MS = 1_000;

export interface ChiefOptions {
  /** PS count of the first shard map. */
  expectedPs: number;
  epochs: number;
  /** Plans the data shards (called once, when the job has no state yet). */
  planShards: () => Promise<DataShard[]>;
  evalPath?: string;
  /** End the job early once the eval metric stops improving (needs `evalPath`). */
  earlyStop?: EarlyStopConfig;
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
  /** The delta stream to serving: a consistent cut published every `everyMs` while training. */
  deltas?: { publisher: DeltaPublisher; everyMs: number };
  /** Restore the job from a checkpoint before leading (once: a restarted chief sees `restoredFrom`). */
  restore?: { id: string; load: (model: ChiefModel) => Promise<CheckpointJob> };
  /** Warm start: a new job begins from this checkpoint's tables and dense weights, with fresh data positions. */
  initFrom?: { root: string; id: string };
  /**
   * A checkpoint that fails on a disk error (full, not writable): `fail` (default) fails the job
   * at once; `continue` logs and counts it and trains on, trying again at the next checkpoint.
   * The final save must succeed either way: a job whose model could not be saved has failed.
   */
  onCheckpointError?: CheckpointErrorPolicy;
  /** Where checkpoints and the model are written (named in disk errors). */
  checkpointDir?: string;
  /** A stream job's evaluation: every `everyMs` while training, on the rows `rows()` returns (the held-out slice). */
  streamEval?: { everyMs: number; rows: () => Promise<RawRow[]> };
}

/** What the chief counts (metrics). */
export interface ChiefEvents extends PsGuardEvents {
  /** A checkpoint (or the model save) failed on a disk error. */
  checkpointFailed(err: TesseraError): void;
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
  /** Recoveries and failures, for metrics. */
  events?: Partial<ChiefEvents>;
  /**
   * Live resharding (issue 17): with it, a PS that joins or is drained while the job trains gets
   * buckets moved to or from it. Without it the PS set stays that of the first shard map.
   */
  migrations?: Pick<MigrationDriverDeps, 'peers' | 'prepare' | 'onDone'>;
  /** `ps.replication` (issue 17): buddies in the map, and failover to them. Absent: none. */
  replication?: Pick<BuddyKeeperDeps, 'mode' | 'peers' | 'onPromoted'>;
  now?: () => number;
}

export class Chief {
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly signal = new Signal();
  private readonly guard: PsGuard;
  private readonly buddies: BuddyKeeper | undefined;
  private readonly driver: MigrationDriver | undefined;
  /** Whether a migration left by a previous chief was looked for (once, before attaching the PS). */
  private migrationChecked = false;
  private psChanged = true;
  /** Evaluations give way to a PS change, so a failover is not stuck behind them (ps-change-race.ts). */
  private readonly psChanges = new PsChanges();
  private model: ChiefModel | null = null;
  /** The `tables` record as last read or written (every table's incarnation on every PS). */
  private tables: TableRecord | undefined;
  private lastStatusAt = -Infinity;
  private lastPhase = '';
  private lastLoss: number | null = null;
  private stopped = false;
  private restored = false;
  private lastCheckpointAt: number;
  private lastPsCheckAt = -Infinity;
  private lastDeltaAt = -Infinity;
  private lastEvalAt: number;
  /** A failure found outside the reconcile loop (a background checkpoint write); fails the job at the next step. */
  private pendingFailure: TesseraError | undefined;

  constructor(private readonly deps: ChiefDeps) {
    this.log = deps.logger.child({ component: 'chief' });
    this.now = deps.now ?? Date.now;
    this.lastCheckpointAt = this.now();
    this.lastEvalAt = this.now();
    const ck = deps.options.checkpoints?.checkpointer;
    this.guard = new PsGuard({
      membership: deps.membership, store: deps.store, shardMaps: deps.shardMaps, logger: deps.logger, events: deps.events,
      checkpoints: ck !== undefined, settled: async () => { await ck?.settled(); },
    });
    this.buddies = deps.replication && new BuddyKeeper({ ...deps.replication, shardMaps: deps.shardMaps, logger: deps.logger });
    this.driver = deps.migrations && new MigrationDriver({
      ...deps.migrations, store: deps.store, membership: deps.membership, logger: deps.logger,
      settled: async () => { await Promise.all([ck?.settled(), deps.options.deltas?.publisher.settled()]); },
    });
  }

  /** Leads until the job is done or failed (or `stop()`); resolves with how it ended. */
  async lead(): Promise<ChiefOutcome | undefined> {
    const { membership, store } = this.deps;
    const members = await membership.watch(undefined, (ev) => {
      if (ev.role === 'ps') this.onPsMember(ev);
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

  /**
   * A PS registered, re-registered or left: attach the PS again (and abandon a checkpoint being
   * cut) unless it is a drained PS's planned exit, which changes nothing the chief published.
   */
  private onPsMember(ev: MembershipEvent): void {
    if (!isPlannedExit(ev, this.model?.client.map, this.driver?.drained ?? new Set())) {
      this.psChanged = true;
      this.psChanges.notify();
      return;
    }
    this.log.info({ ps: ev.id }, 'a drained parameter server left (it owned no bucket): nothing to attach again');
  }

  /** Makes `lead()` return at its next wake-up. */
  stop(): void {
    this.stopped = true;
    this.signal.notify();
  }

  private async loop(): Promise<ChiefOutcome | undefined> {
    const tickMs = this.deps.options.tickMs ?? 1000;
    let failures = 0;
    let fatal: TesseraError | undefined;
    while (!this.stopped) {
      try {
        if (fatal) return await this.failJob(fatal);
        const done = await this.step(tickMs);
        failures = 0;
        if (done) return done;
      } catch (err) {
        const fails = fatal === undefined ? jobFatal(err, this.deps.options.checkpointDir ?? 'the checkpoint dir') : undefined;
        if (fails) {
          fatal = fails;
          continue;
        }
        if (!isTransient(err) && !needsReattach(err)) throw err;
        if (needsReattach(err)) this.psChanged = true;
        const waitMs = backoffDelay({ ...DEFAULT_BACKOFF, initialMs: 200 }, failures++);
        this.log.warn({ err: (err as Error).message.split('\n')[0], waitMs },
          needsReattach(err) ? 'the parameter servers changed; attaching them again' : 'the job waits and retries (etcd or a PS unreachable, or a checkpoint to take again)');
        await this.signal.wait(waitMs);
      }
    }
    return undefined;
  }

  /** One reconcile; returns the outcome once the job is done or failed. */
  private async step(tickMs: number): Promise<ChiefOutcome | undefined> {
    if (this.pendingFailure) throw this.pendingFailure;
    if (this.driver && !this.migrationChecked) {
      // A migration a previous chief left is finished or rolled back before the PS are attached.
      const left = await this.deps.store.snapshot();
      const map = left.migration ? await this.deps.shardMaps.get() : undefined;
      if (map && await this.driver.reconcile(left, map)) this.psChanged = true;
      this.migrationChecked = true;
    }
    if (this.psChanged && !(await this.attachPs())) {
      await this.signal.wait(tickMs);
      return undefined;
    }
    await this.restoreIfAsked();
    const snap = await this.deps.store.snapshot();
    if (snap.state?.phase === 'failed') return { failure: snap.state.failure! };
    const state = snap.state ?? await this.createState();
    const liveWorkers = async () => (await this.deps.membership.list('worker')).length;
    if (state.phase === 'done') {
      await this.publishStatus(state, snap.progress, state.shards.length, await liveWorkers(), true);
      return { result: state.result };
    }
    if (await this.psNeedAttention(snap.faults)) return undefined;
    // Buckets move only while training: the eval and the end of the job read the PS as they are.
    if (this.driver && state.phase === 'train' && await this.driver.reconcile(snap, this.model!.client.map)) {
      this.psChanged = true;
      return undefined;
    }
    if (state.phase === 'eval') {
      await this.publishStatus(state, snap.progress, state.shards.length, await liveWorkers(), true);
      await this.finishEpoch(state);
      return undefined;
    }
    const workers = (await this.deps.membership.list('worker')).map((m) => ({ id: m.id, incarnation: m.incarnation }));
    const plan = isStreamJob(state) ? planPartitionAssignments(state, workers, snap.assignments) : planAssignments(state, workers, snap.assignments, snap.progress);
    for (const a of plan.revoke) await this.revoke(a, workers.some((w) => w.id === a.worker && w.incarnation === a.incarnation));
    for (const a of plan.assign) {
      if (await this.deps.store.assign(a)) this.log.info({ shard: a.shard, worker: a.worker, epoch: a.epoch, resumeAt: snap.progress.get(a.shard)?.next }, 'assigned data shard');
    }
    if (plan.epochDone) {
      await this.endEpoch(state, snap.progress);
      return undefined;
    }
    await this.publishStatus(state, snap.progress, plan.shardsDone, workers.length, false);
    const ck = this.deps.options.checkpoints;
    if (ck?.everyMs && this.now() - this.lastCheckpointAt >= ck.everyMs) {
      // Training resumes right after the cut; the PS write their files meanwhile.
      const { id, written } = await ck.checkpointer.begin(undefined, () => !this.psChanged, () => this.psAsPublished());
      written.then(() => { this.lastCheckpointAt = this.now(); }, (err: unknown) => this.checkpointFailed(id, err, false));
      this.lastCheckpointAt = this.now();
      return undefined;
    }
    const ev = this.deps.options.streamEval;
    if (ev && isStreamJob(state) && this.now() - this.lastEvalAt >= ev.everyMs) {
      this.lastEvalAt = this.now();
      await this.evaluateStream(ev.rows);
      return undefined;
    }
    const deltas = this.deps.options.deltas;
    if (deltas && this.now() - this.lastDeltaAt >= deltas.everyMs) {
      this.lastDeltaAt = this.now();
      const { written } = await deltas.publisher.publish(() => !this.psChanged, () => this.psAsPublished());
      written.catch((err: unknown) => this.log.error({ err: (err as Error).message }, 'publishing a delta failed; the next one starts from a full version'));
      return undefined;
    }
    // Wake when the next delta is due, not at the next tick: a tick late is a tick less fresh.
    await this.signal.wait(deltas ? Math.max(1, Math.min(tickMs, this.lastDeltaAt + deltas.everyMs - this.now())) : tickMs);
    return undefined;
  }

  /**
   * A stream job's periodic evaluation on its held-out slice: recorded in the job state's
   * `evals` (the newest STREAM_EVALS_KEPT), so status and a standby see it. Nothing to
   * evaluate yet is not an error: the slice fills as events arrive.
   */
  private async evaluateStream(rows: () => Promise<RawRow[]>): Promise<void> {
    const batch = await rows();
    if (batch.length === 0) return;
    const r = await this.psChanges.race(this.model!.evaluateRows((async function* () { yield batch; })()), 'the stream evaluation');
    const snap = await this.deps.store.snapshot();
    if (!snap.state || snap.state.phase !== 'train') return;
    const evals = [...snap.state.evals, { epoch: snap.state.epoch, auc: finiteOr(r.auc, 0.5), logloss: finiteOr(r.logloss, 0), rows: r.rows }];
    await this.deps.store.putState({ ...snap.state, evals: evals.slice(-STREAM_EVALS_KEPT) });
    this.log.info({ auc: r.auc, logloss: r.logloss, rows: r.rows }, 'evaluated on the held-out stream slice');
  }

  /** All shards of the epoch are done: on to evaluation, unless the epoch had no rows at all. */
  private async endEpoch(state: JobState, progress: Parameters<typeof epochTotals>[1]): Promise<void> {
    const e = epochTotals(state, progress);
    if (e.samples === 0) {
      const files = [...new Set(state.shards.map((s) => s.path))].join(', ');
      throw new JobFailedError(ERROR_CODES.CONFIG,
        `training data has no rows: ${files} (epoch ${state.epoch + 1} read 0 rows; every line is blank, or the file is empty); give --data a file with training rows`);
    }
    const seconds = (this.now() - Date.parse(state.epochStartedAt)) / 1000;
    this.log.info({ epoch: state.epoch, samples: e.samples, seconds }, 'epoch trained');
    await this.deps.store.putState({
      ...state, phase: 'eval', samplesBefore: state.samplesBefore + e.samples, stepsBefore: state.stepsBefore + e.steps,
      trainSecondsBefore: state.trainSecondsBefore + seconds,
    });
  }

  /**
   * Every PS_CHECK_EVERY_MS, and at once when a worker reports a fault: is every PS as published?
   * True when not: the PS are attached again (and repaired) at the next step.
   */
  private async psNeedAttention(faults: ReadonlyMap<string, PsFault>): Promise<boolean> {
    // A worker that cannot read its data shard: every worker would meet the same bytes.
    const data = [...faults.values()].find((f) => f.kind === 'data');
    if (data) throw new JobFailedError(ERROR_CODES.BAD_DATA, data.message);
    if (faults.size === 0 && this.now() - this.lastPsCheckAt < PS_CHECK_EVERY_MS) return false;
    this.lastPsCheckAt = this.now();
    for (const f of faults.values()) this.log.warn({ worker: f.worker, fault: f.message }, 'a worker reports a parameter server not as published');
    const wrong = !(await this.psAsPublished());
    await this.deps.store.deleteFaults([...faults.keys()]);
    return wrong;
  }

  /** One quick check of every PS against the published map and tables; false (and attach again) when wrong. */
  private async psAsPublished(): Promise<boolean> {
    if (!this.model) return false;
    const ok = allWell(await this.guard.check(this.model, this.tables));
    if (!ok) this.psChanged = true;
    return ok;
  }

  /** The disk error (TESSERA_ERR_CHECKPOINT_DIR) behind a failed checkpoint or save, if that is what it was. */
  private diskFailure(err: unknown): TesseraError | undefined {
    const fatal = jobFatal(err, this.deps.options.checkpointDir ?? 'the checkpoint dir');
    return fatal?.code === ERROR_CODES.CHECKPOINT_DIR ? fatal : undefined;
  }

  /**
   * A checkpoint failed. On a disk error the job fails (the final save, or by default), or with
   * `--on-checkpoint-error continue` training goes on; any other failure leaves the previous
   * checkpoint the latest, as a PS restarting mid-write does.
   */
  private checkpointFailed(id: string, err: unknown, final: boolean): void {
    const disk = this.diskFailure(err);
    if (!disk) {
      this.log.error({ checkpoint: id, err: (err as Error).message }, 'checkpoint failed; the previous one stays the latest');
      return;
    }
    this.deps.events?.checkpointFailed?.(disk);
    if (final || this.deps.options.onCheckpointError !== 'continue') {
      this.pendingFailure ??= disk;
      this.signal.notify();
      return;
    }
    this.log.error({ checkpoint: id, err: disk.message },
      'checkpoint failed on its directory; training goes on (--on-checkpoint-error continue) and the next checkpoint tries again; the previous one stays the latest');
  }

  /**
   * Takes an epoch-end or final checkpoint; returns its path. A disk error goes by the policy
   * above (undefined: skipped); any other failure is retried, with the epoch's end.
   */
  private async checkpoint(jobAtCut: Parameters<Checkpointer['take']>[0], final: boolean): Promise<string | undefined> {
    const ck = this.deps.options.checkpoints?.checkpointer;
    if (!ck) return undefined;
    try {
      return (await ck.take(jobAtCut, () => !this.psChanged, () => this.psAsPublished())).path;
    } catch (err) {
      if (isTransient(err) || needsReattach(err) || isFatalCode(err)) throw err;
      if (!this.diskFailure(err)) throw new TesseraError(ERROR_CODES.UNAVAILABLE, `checkpoint failed (${(err as Error).message}); taking it again`);
      this.checkpointFailed('(epoch end)', err, final);
      if (this.pendingFailure) throw this.pendingFailure;
      return undefined;
    }
  }

  /**
   * Saves the final model or publishes a version; resolves with the published version. A disk
   * error fails the job whatever the policy.
   */
  private async saveModel(to: ModelTargets, info: { step: number; samples: number }): Promise<number | undefined> {
    try {
      return await this.model!.save(to, info);
    } catch (err) {
      const disk = this.diskFailure(err);
      if (disk) this.deps.events?.checkpointFailed?.(disk);
      throw disk ?? err;
    }
  }

  /** Records the job as failed with `err`'s reason; every chief and worker then ends with it. */
  private async failJob(err: TesseraError): Promise<ChiefOutcome> {
    const snap = await this.deps.store.snapshot();
    if (snap.state?.phase === 'failed') return { failure: snap.state.failure! };
    const failure: JobFailure = { code: err.code, reason: err.message, at: new Date(this.now()).toISOString() };
    const state: JobState = { ...(snap.state ?? this.newState([])), phase: 'failed', failure };
    await this.deps.store.putState(state);
    this.log.error({ code: failure.code, reason: failure.reason }, 'job failed');
    await this.publishStatus(state, snap.progress, 0, (await this.deps.membership.list('worker')).length, true);
    return { failure };
  }

  private async revoke(a: Assignment, workerLive: boolean): Promise<void> {
    if (!(await this.deps.store.revoke(a))) return;
    const why = a.epoch !== undefined && workerLive ? 'shard finished or epoch over' : 'worker incarnation gone';
    this.log.info({ shard: a.shard, worker: a.worker, incarnation: a.incarnation, why }, 'took back data shard');
  }

  /** Restores the PS rows and the job state from the requested checkpoint, once per job. */
  private async restoreIfAsked(): Promise<void> {
    const r = this.deps.options.restore;
    if (!r || this.restored) return;
    const snap = await this.deps.store.snapshot();
    if (snap.state?.restoredFrom !== r.id && snap.state?.phase !== 'failed') {
      const job = await r.load(this.model!); // restores every PS's rows for the buckets it owns now
      // Rates restart with this run: its seconds, and only the samples it trains (issue 22 §3).
      const state: JobState = {
        ...job.state, restoredFrom: r.id, epochStartedAt: new Date(this.now()).toISOString(), trainSecondsBefore: 0, samplesAtResume: job.samples,
      };
      await this.deps.store.restoreJob(state, job.progress);
      this.log.info({ checkpoint: r.id, epoch: state.epoch, phase: state.phase, step: job.step, samples: job.samples }, 'job restored from checkpoint');
    }
    this.deps.options.checkpoints?.checkpointer.continueFrom(r.id);
    this.restored = true;
  }

  /**
   * Decides and publishes the shard map, (re)creates the tables, restores PS that restarted or
   * lost tables, and publishes every table's incarnation; false while PS are missing or the map
   * had to be published again.
   */
  private async attachPs(): Promise<boolean> {
    this.psChanged = false;
    const { membership, shardMaps, options, store } = this.deps;
    const live = await membership.list('ps');
    const stored = this.buddies ? await this.buddies.failover(await shardMaps.get(), live) : await shardMaps.get();
    const decision = decidePsSet(live, stored, options.expectedPs);
    if (decision.kind === 'wait') {
      this.log.info({ reason: decision.reason }, 'waiting for parameter servers');
      this.psChanged = true;
      return false;
    }
    const map = this.buddies ? this.buddies.assign(decision.map, live, decision.publish) : decision.map;
    if (decision.publish || map !== decision.map) await shardMaps.publish(map, stored?.version ?? 0);
    if (this.model?.mapVersion !== map.version) {
      this.model?.close();
      this.model = this.deps.connect(map);
    }
    const seen = await this.guard.observe(this.model, false); // before anything is installed or created
    if (!(await this.guard.ensureMapVersion(this.model, seen))) {
      this.psChanged = true;
      return false;
    }
    await this.model.initTables();
    this.tables = await this.guard.reconcileTables(this.model, (await store.snapshot()).tables, seen);
    await store.putTables(this.tables);
    await this.buddies?.configure(map);
    this.lastPsCheckAt = this.now();
    this.log.info({ version: map.version, ps: map.ps.map((p) => `${p.id}@${p.addr}`), tables: this.tables.generation }, 'parameter servers attached');
    return true;
  }

  private newState(shards: DataShard[]): JobState {
    return {
      epoch: 0, epochs: this.deps.options.epochs, phase: 'train', shards, samplesBefore: 0, stepsBefore: 0, trainSecondsBefore: 0,
      epochStartedAt: new Date(this.now()).toISOString(), evals: [],
    };
  }

  private async createState(): Promise<JobState> {
    const { options, store } = this.deps;
    if (options.initFrom) {
      const out = await restoreFromCheckpoint(this.model!.client.checkpoints, options.initFrom.root, options.initFrom.id);
      const rows = out.reduce((n, r) => n + r.tables.reduce((k, t) => k + t.rows, 0), 0);
      this.log.info({ checkpoint: options.initFrom.id, rows }, 'warm start: tables and dense weights loaded from the checkpoint; data positions start fresh');
    }
    const state = this.newState(await options.planShards());
    if (!(await store.createState(state))) {
      const snap = await store.snapshot();
      if (!snap.state) throw new TesseraError(ERROR_CODES.INTERNAL, 'job state vanished while it was being created');
      return snap.state;
    }
    this.log.info({ shards: state.shards.length, epochs: options.epochs }, 'job started');
    return state;
  }

  /** Evaluates the finished epoch, then starts the next one or finishes the job. */
  private async finishEpoch(state: JobState): Promise<void> {
    const { options, store } = this.deps;
    const model = this.model!;
    const evals = [...state.evals];
    if (options.evalPath) {
      const r = await this.psChanges.race(model.evaluate(options.evalPath));
      evals.push({ epoch: state.epoch, auc: finiteOr(r.auc, 0.5), logloss: finiteOr(r.logloss, 0), rows: r.rows });
      this.log.info({ epoch: state.epoch, auc: r.auc, logloss: r.logloss, rows: r.rows }, 'evaluated');
    }
    // Decided from the evaluations kept in the job state, so a standby decides the same.
    const early = options.earlyStop && options.evalPath ? earlyStopDecision(options.earlyStop, evals) : undefined;
    if (early?.stop && state.epoch + 1 < state.epochs) this.log.info({ epoch: state.epoch, bestEpoch: early.bestEpoch, best: early.best }, 'early stop: the eval metric stopped improving');
    if (state.epoch + 1 < state.epochs && !early?.stop) {
      await this.publishVersion(state);
      const next: JobState = { ...state, epoch: state.epoch + 1, phase: 'train', evals, epochStartedAt: new Date(this.now()).toISOString() };
      // The epoch-end checkpoint resumes into the next epoch, with no position read yet.
      await this.checkpoint(() => ({ state: next, progress: [] }), false);
      this.lastCheckpointAt = this.now();
      await store.startEpoch({ ...next, epochStartedAt: new Date(this.now()).toISOString() });
      return;
    }
    // The model is written under the checkpoint root, so a disk error names the checkpoint dir.
    if (options.modelDir) await this.saveModel({ dir: options.modelDir, dirLabel: 'checkpoint dir' }, { step: state.stepsBefore, samples: state.samplesBefore });
    const version = await this.publishVersion(state);
    const last = evals[evals.length - 1];
    const result: JobResult = {
      samples: state.samplesBefore,
      samples_per_s: finishedSamplesPerS(state),
      auc: last?.auc ?? null, logloss: last?.logloss ?? null, checkpoint: options.modelDir ?? null,
      ...(version !== undefined ? { model_version: version } : {}),
    };
    const done: JobState = { ...state, phase: 'done', evals, result };
    // The consistent checkpoint (tessera eval reads it); the model is also in modelDir.
    result.checkpoint = (await this.checkpoint(() => ({ state: done, progress: [] }), true)) ?? result.checkpoint;
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
    const version = await this.saveModel({ exportRoot: root }, { step: state.stepsBefore, samples: state.samplesBefore });
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

function finiteOr(x: number, fallback: number): number {
  return Number.isFinite(x) ? x : fallback;
}
