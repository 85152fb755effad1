/**
 * Buddy assignment for PS replication (issue 17, `ps.replication: buddy`): each PS of a shard map
 * streams its applied updates to one other PS, its buddy, which holds a replica of its rows and
 * takes its buckets over when it dies. Pure; the chief runs it and records the result in the
 * shard map (`PsEndpoint.buddy`).
 *
 * The rule: walk the PS in id order as a ring; a PS's buddy is the first PS after it that runs in
 * another process (a host and pid), so one crash never takes a primary and its replica together.
 * When every PS shares one process (a single `tessera ps --shards K`) the next PS on the ring is
 * taken anyway: a replica on a sibling thread still survives a restart of nothing, but keeps the
 * protocol the same. One PS alone has no buddy.
 *
 * ```ts
 * assignBuddies([{ id: 0, process: 'h/10' }, { id: 1, process: 'h/10' }, { id: 2, process: 'h/11' }]);
 * // Map { 0 => 2, 1 => 2, 2 => 0 }
 * ```
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { ShardMap } from './shard-map';

/** A PS as buddy assignment sees it: its shard-map id and the process that runs it. */
export interface BuddyCandidate {
  id: number;
  /** Any string equal for the shards of one OS process ("host/pid"). */
  process: string;
}

/** The buddy (a PS id) of each PS id; PS without a possible buddy are absent. */
export function assignBuddies(ps: readonly BuddyCandidate[]): Map<number, number> {
  const ring = [...ps].sort((a, b) => a.id - b.id);
  const out = new Map<number, number>();
  if (ring.length < 2) return out;
  for (let i = 0; i < ring.length; i++) {
    let pick = ring[(i + 1) % ring.length];
    for (let k = 1; k < ring.length; k++) {
      const c = ring[(i + k) % ring.length];
      if (c.process !== ring[i].process) {
        pick = c;
        break;
      }
    }
    out.set(ring[i].id, pick.id);
  }
  return out;
}

/** `map`'s PS with `buddies` recorded (`PsEndpoint.buddy`; PS absent from `buddies` get none). */
export function withBuddies(map: ShardMap, buddies: ReadonlyMap<number, number>): ShardMap {
  return {
    ...map,
    ps: map.ps.map(({ buddy: _old, ...p }) => (buddies.has(p.id) ? { ...p, buddy: buddies.get(p.id)! } : p)),
  };
}

/** True when `a` and `b` record the same buddy for every PS. */
export function sameBuddies(a: ShardMap, b: ShardMap): boolean {
  const of = (m: ShardMap) => JSON.stringify(m.ps.map((p) => [p.id, p.buddy ?? -1]).sort((x, y) => x[0] - y[0]));
  return of(a) === of(b);
}

/**
 * The map after failover: every PS of `dead` is dropped and its buckets go to its buddy, one
 * version above `map`. Pure; throws when a dead PS has no buddy or its buddy is dead too (then
 * there is no replica to promote: restore from a checkpoint instead).
 */
export function failoverMap(map: ShardMap, dead: ReadonlySet<number>): ShardMap {
  const keep = map.ps.filter((p) => !dead.has(p.id));
  const index = new Map(keep.map((p, i) => [p.id, i]));
  const owner = new Uint16Array(map.numBuckets);
  for (let b = 0; b < map.numBuckets; b++) {
    const p = map.ps[map.owner[b]];
    const to = dead.has(p.id) ? p.buddy : p.id;
    const i = to === undefined ? undefined : index.get(to);
    if (i === undefined) {
      throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `PS ${p.id} is gone and ${p.buddy === undefined ? 'has no buddy' : `its buddy ${p.buddy} is gone too`}: no replica to promote`);
    }
    owner[b] = i;
  }
  return { version: map.version + 1, numBuckets: map.numBuckets, ps: keep, owner };
}
