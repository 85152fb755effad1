/**
 * The chief's reading of a cut at per-worker step numbers (ADR 0040): which workers' step ids
 * the cut waits for, and the data positions the checkpoint or delta records for it.
 *
 * - `countedSteps`: of round 1's highest steps, per live worker incarnation only the step id
 *   whose positions have the highest `seq` (its newest: a data thread's or a renewed id's).
 *   A dead worker, the old process of a restarted one and a step id the worker renewed after a
 *   failed push are left out: the cut does not wait for their steps, and their committed records
 *   stand (at least once, as for a worker killed between a push and its commit).
 * - `acknowledgedSteps`: of the counted step ids, those whose worker has committed positions at
 *   or past its step on every shard the step names. A worker commits only once every push
 *   before was answered, so every PS may take those steps as complete: one that started after
 *   them (restarted from a checkpoint, or joined) heard nothing of them and would wait forever
 *   for a worker that has nothing left to push.
 * - `positionsAtCut`: the committed progress records, each overwritten by the decoded position
 *   of a counted worker that trains its shard. A worker that has pushed nothing since it started
 *   appears in no ledger, and its committed record is exact.
 *
 * ```ts
 * const chosen = countedSteps(best, await membership.list('worker'));
 * const acked = acknowledgedSteps(best, chosen, snapshot.progress);
 * const progress = positionsAtCut(snapshot.progress, cut.positions);
 * ```
 */
import type { Progress } from '../control/job-types';
import { decodeStepPositions, overProgress } from '../control/step-positions';

/** A registered worker process: its id and registration incarnation. */
export interface LiveWorker { id: string; incarnation: string }

/** The step ids a cut waits for (of round 1's highest steps): per live worker incarnation, the one with the newest positions. */
export function countedSteps(best: ReadonlyMap<bigint, { positions: Uint8Array }>, live: readonly LiveWorker[]): Set<bigint> {
  const newest = new Map<string, { client: bigint; seq: number }>();
  for (const [client, s] of best) {
    const d = decodeStepPositions(s.positions);
    if (!d || !live.some((w) => w.id === d.worker && w.incarnation === d.incarnation)) continue;
    const key = `${d.worker}\u0000${d.incarnation}`;
    const had = newest.get(key);
    if (!had || d.seq > had.seq) newest.set(key, { client, seq: d.seq });
  }
  return new Set([...newest.values()].map((n) => n.client));
}

/** Of `counted`, the step ids whose worker committed positions at or past the step on each of its shards. */
export function acknowledgedSteps(best: ReadonlyMap<bigint, { positions: Uint8Array }>, counted: Iterable<bigint>, committed: ReadonlyMap<number, Progress>): Set<bigint> {
  const out = new Set<bigint>();
  for (const client of counted) {
    const s = best.get(client);
    const d = s && decodeStepPositions(s.positions);
    if (!d || d.shards.length === 0) continue;
    const past = d.shards.every((p) => {
      const c = committed.get(p.shard);
      return c !== undefined && c.worker === d.worker && c.epoch === p.epoch && c.rows >= p.rows && c.steps >= p.steps;
    });
    if (past) out.add(client);
  }
  return out;
}

/** The committed records moved to the counted workers' positions at the cut (a new map). */
export function positionsAtCut(committed: ReadonlyMap<number, Progress>, positions: ReadonlyMap<bigint, Uint8Array>): Map<number, Progress> {
  const out = new Map(committed);
  for (const bytes of positions.values()) {
    const d = decodeStepPositions(bytes);
    if (!d) continue;
    for (const p of d.shards) out.set(p.shard, overProgress(committed.get(p.shard), p, d.worker));
  }
  return out;
}
