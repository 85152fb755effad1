/**
 * Trains a worker's stream partitions together for one pass, committing each partition's
 * position (the id of its last entry applied) as it goes. Free of transport: the JobStore,
 * ParameterAccess and StreamLog are passed in. The stream job's counterpart of shard-trainer.ts,
 * with the same commit rule: a position is committed only after every push of the rows before it
 * has been acknowledged (`params.flush()`), through the store's lease-guarded commit, so each
 * entry is counted in exactly one committed `rows` total. A worker killed between a push and its
 * commit leaves those entries to the next reader, which trains them again: exactly once in the
 * row accounting and the positions, at least once in the model, bounded by the commit interval
 * (docs/online-learning.md).
 *
 * A pass ends when the partitions are drained (nothing new within `blockMs`), after `roundMs`,
 * or on stop; the worker then reads its assignments again and starts the next pass from the
 * committed positions, so partitions handed to it or taken back take effect within one pass.
 */
import type { Logger } from '../common/logger';
import type { JobStore } from '../control/job-store';
import type { Assignment, DataShard, Progress } from '../control/job-types';
import type { StepPositions } from '../control/step-positions';
import type { RawRow, RowSchema } from '../data/record';
import { START_POSITION, StreamLog } from '../stream/stream-log';
import { StreamRows } from '../stream/stream-rows';
import { parseStreamUrl } from '../stream/stream-url';
import type { ParameterAccess } from './param-access';
import { commitWithRetry, ShardLostError } from './shard-trainer';
import type { Trainer } from './trainer';

export interface PartitionTrainerDeps {
  workerId: string;
  store: JobStore;
  params: ParameterAccess;
  trainer: Trainer;
  log: StreamLog;
  schema: RowSchema;
  batchSize: number;
  commitEveryMs: number;
  /** Longest wait for a new entry before a pass ends, ms. */
  blockMs: number;
  /** Longest pass, ms. */
  roundMs: number;
  logger: Logger;
  stopping: () => boolean;
  /** Told of every bad entry skipped (metrics). */
  onBadLines?: (n: number) => void;
  now?: () => number;
  /** Where this worker's partitions stand after the step being pushed (its pushes carry it; ADR 0040). */
  positions?: StepPositions;
}

/** One partition's counters while it trains. */
interface PartitionState {
  a: Assignment;
  entry: string;
  rows: number;
  steps: number;
  sinceRows: number;
  sinceLoss: number;
  /** Changed since its last commit. */
  dirty: boolean;
}

/** Where each yielded batch (or skipped run of bad entries, `rows` 0) leaves its partition, in order. */
interface Pending {
  key: string;
  id: string;
  rows: number;
}

function startState(a: Assignment, committed: Progress | undefined): PartitionState {
  const p = committed && committed.epoch === a.epoch ? committed : undefined;
  return { a, entry: p?.entry ?? START_POSITION, rows: p?.rows ?? 0, steps: p?.steps ?? 0, sinceRows: 0, sinceLoss: 0, dirty: false };
}

/** Trains the partitions `mine` for one pass; throws ShardLostError when one was taken back. */
export async function trainPartitions(deps: PartitionTrainerDeps, mine: readonly Assignment[], shards: readonly DataShard[],
  progress: ReadonlyMap<number, Progress>): Promise<{ rows: number }> {
  const now = deps.now ?? Date.now;
  const parts = new Map(mine.map((a) => [parseStreamUrl(shards[a.shard].path).key, startState(a, progress.get(a.shard))]));
  const log = deps.logger.child({ partitions: mine.map((a) => a.shard) });
  const rows = new StreamRows(deps.log, {
    after: new Map([...parts].map(([k, s]) => [k, s.entry])), schema: deps.schema, blockMs: deps.blockMs, roundMs: deps.roundMs,
    stopping: deps.stopping, onBad: (where, reason) => log.warn({ entry: where, reason }, 'skipped a bad stream entry'),
  });
  let badSeen = 0;
  let lastCommit = now();
  const commit = async (): Promise<void> => {
    const bad = rows.stats().bad;
    if (bad > badSeen) deps.onBadLines?.(bad - badSeen);
    badSeen = bad;
    for (const s of parts.values()) {
      if (!s.dirty) continue;
      const p: Progress = {
        shard: s.a.shard, epoch: s.a.epoch, next: 0, entry: s.entry, rows: s.rows, steps: s.steps, done: false,
        loss: s.sinceRows ? s.sinceLoss / s.sinceRows : null, worker: deps.workerId,
      };
      if (!(await commitWithRetry(deps.store, s.a, p, log))) throw new ShardLostError(s.a.shard);
      Object.assign(s, { sinceRows: 0, sinceLoss: 0, dirty: false });
    }
    lastCommit = now();
  };
  const pending: Pending[] = [];
  const apply = (q: Pending, loss?: number): void => {
    const s = parts.get(q.key)!;
    Object.assign(s, { entry: q.id, dirty: true, rows: s.rows + q.rows, sinceRows: s.sinceRows + q.rows });
    if (loss !== undefined) Object.assign(s, { steps: s.steps + 1, sinceLoss: s.sinceLoss + loss * q.rows });
  };
  async function* batches(): AsyncGenerator<RawRow[]> {
    for await (const b of rows.positionedBatches(deps.batchSize)) {
      pending.push({ ...b.next, rows: b.rows.length });
      if (b.rows.length > 0) yield b.rows;
    }
  }
  let trained = 0;
  const { positions } = deps;
  await deps.trainer.trainEpoch(batches(), {
    ...(positions ? { beforePush: () => setPositions(positions, parts, pending) } : {}),
    afterStep: async (step) => {
      // Runs of bad entries queued before this step's batch are applied with it.
      while (pending.length > 0 && pending[0].rows === 0) apply(pending.shift()!);
      apply(pending.shift()!, step.loss);
      trained += step.size;
      if (now() - lastCommit >= deps.commitEveryMs) {
        await deps.params.flush();
        await commit();
      }
    },
  });
  // trainEpoch flushed every push: every batch read, and every bad entry after them, is applied.
  for (const q of pending.splice(0)) apply(q);
  await commit();
  // Committed: the committed records are these partitions' positions.
  for (const s of parts.values()) positions?.drop(s.a.shard);
  return { rows: trained };
}

/**
 * Where the partitions stand once the step being pushed is applied (what `afterStep` will apply:
 * the runs of bad entries queued before its batch, then its batch), for its tags.
 */
function setPositions(positions: StepPositions, parts: ReadonlyMap<string, PartitionState>, pending: readonly Pending[]): void {
  const after = new Map<string, { entry: string; rows: number; steps: number }>();
  for (const q of pending) {
    const s = parts.get(q.key)!;
    const was = after.get(q.key) ?? { entry: s.entry, rows: s.rows, steps: s.steps };
    after.set(q.key, { entry: q.id, rows: was.rows + q.rows, steps: was.steps + (q.rows > 0 ? 1 : 0) });
    if (q.rows > 0) break;
  }
  for (const [key, p] of after) {
    const { a } = parts.get(key)!;
    positions.set({ shard: a.shard, epoch: a.epoch, next: 0, ...p });
  }
}
