/**
 * The next live-resharding step (issue 17), pure: from the published map and the PS set the job
 * should have, the map one migration installs and the buckets each source sends.
 *
 * The goal is `planShardMap(desired, { previous })`, which moves the fewest buckets. A PS streams
 * to one target per migration (it holds one copy-on-write cut of its tables at a time), so a
 * step moves, for every source, only the buckets bound for its lowest-numbered target; a source
 * with buckets for two targets (a drained PS, or 2 → 4) takes two steps. Planning again from the
 * step's map reaches the same balance, so a chief that takes over mid-way just plans again.
 *
 * ```ts
 * const step = nextMigrationStep(published, [...published.ps, { id: 2, addr: 'ps-2:7000' }]);
 * step?.moves;   // [{ from: 0, to: 2, buckets: [...] }, { from: 1, to: 2, buckets: [...] }]
 * ```
 */
import { planShardMap, PsEndpoint, ShardMap } from './shard-map';

/** The buckets one source sends to one target. */
export interface MigrationMove {
  from: number;
  to: number;
  buckets: number[];
}

/** One migration: the map it installs and its moves (one per source). */
export interface MigrationStep {
  to: ShardMap;
  moves: MigrationMove[];
}

/** Bucket → owning PS id. */
function ownerIds(map: ShardMap): number[] {
  return Array.from(map.owner, (i) => map.ps[i].id);
}

/**
 * The next step from `current` toward the PS set `desired` (ids and addresses), or undefined
 * when `current` already is that set, balanced. `desired` must not be empty.
 */
export function nextMigrationStep(current: ShardMap, desired: readonly PsEndpoint[]): MigrationStep | undefined {
  const goal = ownerIds(planShardMap([...desired], { previous: current }));
  const now = ownerIds(current);
  const target = new Map<number, number>(); // source → its target this step (lowest id)
  for (let b = 0; b < now.length; b++) {
    if (goal[b] === now[b]) continue;
    const t = target.get(now[b]);
    if (t === undefined || goal[b] < t) target.set(now[b], goal[b]);
  }
  if (target.size === 0) return undefined;
  const next = now.slice();
  const moves = new Map<number, MigrationMove>();
  for (let b = 0; b < now.length; b++) {
    if (goal[b] === now[b] || target.get(now[b]) !== goal[b]) continue;
    next[b] = goal[b];
    let m = moves.get(now[b]);
    if (!m) moves.set(now[b], (m = { from: now[b], to: goal[b], buckets: [] }));
    m.buckets.push(b);
  }
  const addr = new Map<number, string>([...current.ps, ...desired].map((p) => [p.id, p.addr]));
  const owning = new Set(next);
  const wanted = new Set(desired.map((p) => p.id));
  const ids = [...addr.keys()].filter((id) => owning.has(id) || wanted.has(id)).sort((a, b) => a - b);
  const index = new Map(ids.map((id, i) => [id, i]));
  const to: ShardMap = {
    version: current.version + 1, numBuckets: current.numBuckets,
    ps: ids.map((id) => ({ id, addr: addr.get(id)! })),
    owner: Uint16Array.from(next, (id) => index.get(id)!),
  };
  return { to, moves: [...moves.values()].sort((a, b) => a.from - b.from) };
}

/**
 * `map` with `extra` PS appended owning no bucket: what a PS that takes part in a migration but
 * is not in `map` installs (a target before the commit, a drained PS after it), so it refuses
 * every request routed with `map` and can stage or hand over buckets.
 */
export function withIdlePs(map: ShardMap, extra: readonly PsEndpoint[]): ShardMap {
  const have = new Set(map.ps.map((p) => p.id));
  return { ...map, ps: [...map.ps, ...extra.filter((p) => !have.has(p.id))] };
}
