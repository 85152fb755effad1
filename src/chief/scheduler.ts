/**
 * The chief's data-shard scheduling, as a pure function of what etcd holds: which assignments
 * to take back and which shards to hand to which idle workers. No I/O: the chief applies the
 * plan through the JobStore, and tests drive it with plain values.
 *
 * A stream job's partitions are handed out by partition-scheduler.ts instead.
 *
 * Rules, per epoch:
 * - a shard is done when its progress record (this epoch) says so;
 * - an assignment is taken back when its worker incarnation is no longer live (the worker died
 *   or re-registered after losing its lease), when it belongs to another epoch, or when its
 *   shard is done;
 * - each live worker without an assignment gets one pending shard; shards already partly read
 *   go first (their rows are committed up to `next`, the next reader resumes there), then by id.
 */
import type { Assignment, JobState, Progress } from '../control/job-types';

/** A live worker incarnation (from membership). */
export interface LiveWorker {
  id: string;
  incarnation: string;
}

export interface SchedulePlan {
  revoke: Assignment[];
  assign: Assignment[];
  shardsDone: number;
  /** Every shard of the epoch is done. */
  epochDone: boolean;
}

export function isShardDone(state: JobState, progress: ReadonlyMap<number, Progress>, shard: number): boolean {
  const p = progress.get(shard);
  return p !== undefined && p.epoch === state.epoch && p.done;
}

export function planAssignments(state: JobState, workers: readonly LiveWorker[], assignments: ReadonlyMap<number, Assignment>,
  progress: ReadonlyMap<number, Progress>): SchedulePlan {
  const live = new Map(workers.map((w) => [w.id, w.incarnation]));
  const revoke: Assignment[] = [];
  const busy = new Set<string>();
  const held = new Set<number>();
  for (const a of [...assignments.values()].sort((x, y) => x.shard - y.shard)) {
    const stale = a.epoch !== state.epoch || live.get(a.worker) !== a.incarnation || a.shard >= state.shards.length
      || isShardDone(state, progress, a.shard);
    if (stale) {
      revoke.push(a);
    } else {
      busy.add(a.worker);
      held.add(a.shard);
    }
  }
  let shardsDone = 0;
  const pending: { shard: number; started: boolean }[] = [];
  for (const s of state.shards) {
    if (isShardDone(state, progress, s.id)) shardsDone++;
    else if (!held.has(s.id)) {
      const p = progress.get(s.id);
      pending.push({ shard: s.id, started: p !== undefined && p.epoch === state.epoch && p.rows > 0 });
    }
  }
  pending.sort((a, b) => Number(b.started) - Number(a.started) || a.shard - b.shard);
  const idle = [...workers].filter((w) => !busy.has(w.id)).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const assign: Assignment[] = [];
  for (let i = 0; i < Math.min(idle.length, pending.length); i++) {
    assign.push({ shard: pending[i].shard, epoch: state.epoch, worker: idle[i].id, incarnation: idle[i].incarnation });
  }
  return { revoke, assign, shardsDone, epochDone: shardsDone === state.shards.length };
}
