/**
 * The chief's hand-out of stream partitions, as a pure function of what etcd holds (the stream
 * job's counterpart of scheduler.ts's file shards). A partition is never done, so a worker holds
 * several at once and trains them together:
 * - an assignment is taken back when its worker incarnation is no longer live, or it belongs to
 *   another epoch, or its worker holds more than its share, ceil(partitions / live workers),
 *   the highest partitions going first (the worker's next commit of it fails; the next reader
 *   resumes from the last committed entry);
 * - each partition without a live holder goes to the live worker holding the fewest (ties by id).
 * So a worker that dies loses its partitions to the others within one reconcile, and a worker
 * that joins takes its share from the busiest.
 */
import type { Assignment, JobState } from '../control/job-types';
import type { LiveWorker, SchedulePlan } from './scheduler';

function byId(a: LiveWorker, b: LiveWorker): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Plans the partitions of a stream job; never `epochDone`. */
export function planPartitionAssignments(state: JobState, workers: readonly LiveWorker[], assignments: ReadonlyMap<number, Assignment>): SchedulePlan {
  const live = new Map(workers.map((w) => [w.id, w.incarnation]));
  const share = workers.length === 0 ? 0 : Math.ceil(state.shards.length / workers.length);
  const held = new Map<string, number[]>(workers.map((w) => [w.id, []]));
  const revoke: Assignment[] = [];
  const kept = new Set<number>();
  for (const a of [...assignments.values()].sort((x, y) => x.shard - y.shard)) {
    const mine = held.get(a.worker);
    if (a.epoch !== state.epoch || live.get(a.worker) !== a.incarnation || a.shard >= state.shards.length || !mine || mine.length >= share) {
      revoke.push(a);
    } else {
      mine.push(a.shard);
      kept.add(a.shard);
    }
  }
  const assign: Assignment[] = [];
  const sorted = [...workers].sort(byId);
  for (const s of state.shards) {
    if (kept.has(s.id) || sorted.length === 0) continue;
    const w = sorted.reduce((best, x) => (held.get(x.id)!.length < held.get(best.id)!.length ? x : best));
    held.get(w.id)!.push(s.id);
    assign.push({ shard: s.id, epoch: state.epoch, worker: w.id, incarnation: w.incarnation });
  }
  // A revoked partition may be assigned again in the same plan (to another worker): the chief
  // revokes first, so the new assignment's guarded create succeeds.
  return { revoke, assign, shardsDone: 0, epochDone: false };
}
