/**
 * Trains one assigned data shard from its last committed position, committing progress as it
 * goes. Free of transport: the JobStore and ParameterAccess are passed in.
 *
 * The commit rule: a position is committed only after every push of the rows before it has been
 * applied (`params.flush()`), and only while the shard is still assigned to this worker
 * incarnation (the store's guarded commit). So each row is counted once per epoch: a worker that
 * dies loses only uncommitted rows, which the next reader reads again from `next`; a worker that
 * was presumed dead (lease lost) cannot commit past the point its successor resumed from. The
 * price is that a dead worker's pushes since its last commit are applied twice; the commit
 * interval bounds that (documented in docs/control-plane.md).
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { Logger } from '../common/logger';
import { backoffDelay, DEFAULT_BACKOFF, delay } from '../common/backoff';
import type { JobStore } from '../control/job-store';
import type { Assignment, DataShard, Progress } from '../control/job-types';
import type { StepPositions } from '../control/step-positions';
import { addStalenessSince, StalenessCounts } from '../control/push-staleness';
import type { RowReaderOptions } from '../data/reader';
import type { ShardSteps } from './shard-steps';

/** The shard was taken back (or the epoch moved on): stop reading it, commit nothing more. */
export class ShardLostError extends Error {
  constructor(readonly shard: number) {
    super(`data shard ${shard} is no longer assigned to this worker`);
  }
}

export interface ShardTrainerDeps {
  workerId: string;
  store: JobStore;
  /** Trains the shard's batches: on this thread (trainerSteps) or beside it (threadSteps). */
  steps: ShardSteps;
  maxErrorRate: number;
  /** Least time between two progress commits, ms. */
  commitEveryMs: number;
  logger: Logger;
  /** True once the process is asked to stop: commit where we are and return. */
  stopping: () => boolean;
  /** Told how many more malformed lines were skipped, at each commit (metrics). */
  onBadLines?: (n: number) => void;
  /** The worker's push-staleness counts so far (live); what grows while this shard trains is committed with it. */
  staleness?: () => StalenessCounts;
  now?: () => number;
  /** Where this worker's data stands after the step being pushed (its pushes carry it; ADR 0040). */
  positions?: StepPositions;
}

export interface ShardOutcome {
  rows: number;
  done: boolean;
}

export async function trainShard(deps: ShardTrainerDeps, a: Assignment, shard: DataShard, committed: Progress | undefined): Promise<ShardOutcome> {
  const now = deps.now ?? Date.now;
  const prior = committed && committed.epoch === a.epoch ? committed : undefined;
  if (prior?.done) return { rows: 0, done: true };
  let next = prior?.next ?? shard.start;
  let rows = prior?.rows ?? 0;
  let steps = prior?.steps ?? 0;
  let sinceRows = 0;
  let sinceLoss = 0;
  let lastCommit = now();
  const readerOptions: RowReaderOptions = shard.gzip
    ? { skipBefore: next, maxErrorRate: deps.maxErrorRate }
    : { range: { start: next, end: shard.end }, maxErrorRate: deps.maxErrorRate };
  const log = deps.logger.child({ shard: a.shard, epoch: a.epoch });
  log.info({ path: shard.path, from: next, end: shard.end, rowsBefore: rows }, 'reading data shard');

  let badSeen = 0;
  const stalenessBase = deps.staleness ? [...deps.staleness()] : null;
  const commit = async (done: boolean, nonFinite?: string): Promise<void> => {
    const p: Progress = { shard: a.shard, epoch: a.epoch, next, rows, steps, done, loss: sinceRows ? sinceLoss / sinceRows : null, worker: deps.workerId };
    if (nonFinite) p.nonFinite = nonFinite;
    // Committed after the flush: every push of the rows before `next` has reported its staleness.
    const staleness = stalenessBase && addStalenessSince(prior?.staleness, deps.staleness!(), stalenessBase);
    if (staleness?.some((c) => c > 0)) p.staleness = staleness;
    const bad = deps.steps.badLines();
    if (bad > badSeen) deps.onBadLines?.(bad - badSeen);
    badSeen = bad;
    if (!(await commitWithRetry(deps.store, a, p, log))) throw new ShardLostError(a.shard);
    sinceRows = 0;
    sinceLoss = 0;
    lastCommit = now();
  };

  const { positions } = deps;
  const run = deps.steps.train({ path: shard.path, reader: readerOptions }, {
    stopping: deps.stopping,
    ...(positions ? { beforePush: (s: { size: number; next: number }) => positions.set({ shard: a.shard, epoch: a.epoch, next: s.next, rows: rows + s.size, steps: steps + 1 }) } : {}),
    afterStep: async (s) => {
      next = s.next;
      rows += s.size;
      steps++;
      sinceRows += s.size;
      sinceLoss += s.loss * s.size;
      if (now() - lastCommit >= deps.commitEveryMs) {
        await deps.steps.flush();
        await commit(false);
      }
    },
  });
  const { stoppedEarly } = await run.catch(async (err: unknown) => {
    // A non-finite loss stops this worker for good: record it with the shard, so the chief's
    // status and metrics show why training stopped (the pushes of the steps before it are kept).
    if (err instanceof TesseraError && err.code === ERROR_CODES.NON_FINITE) {
      await deps.steps.flush().then(() => commit(false, err.message)).catch(() => undefined);
    }
    throw err;
  });
  // The run flushed every push: everything read so far is applied.
  // Committed from here on: the committed record is this shard's position.
  positions?.drop(a.shard);
  if (stoppedEarly) {
    await commit(false);
    log.info({ rows, next }, 'stopping: committed the shard position for the next reader');
    return { rows, done: false };
  }
  next = shard.gzip ? Math.max(next, shard.end) : shard.end;
  await commit(true);
  log.info({ rows, steps }, 'data shard done');
  return { rows, done: true };
}

/** Commits, retrying while etcd is unreachable (training stalls meanwhile); false if the shard was lost. */
export async function commitWithRetry(store: JobStore, a: Assignment, p: Progress, log: Logger): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await store.commitProgress(a, p);
    } catch (err) {
      if (err instanceof TesseraError && err.code !== ERROR_CODES.UNAVAILABLE) throw err;
      const waitMs = backoffDelay({ ...DEFAULT_BACKOFF, maxMs: 1_000 }, attempt);
      log.warn({ err: (err as Error).message, attempt, waitMs }, 'cannot commit progress to etcd; training waits until it answers');
      await delay(waitMs);
    }
  }
}
