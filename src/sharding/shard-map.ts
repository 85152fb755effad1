/**
 * The versioned bucket → PS map, and its pure planner (only the chief runs `planShardMap` and
 * publishes the result; everyone else reads it).
 *
 * ids map to buckets with {@link bucketOf}; a ShardMap maps each bucket to a PS. Re-planning after
 * membership changes moves the fewest buckets possible, so only those rows migrate.
 */

import { ERROR_CODES, TesseraError } from '../common/errors';
import { bucketOf, DEFAULT_NUM_BUCKETS, MAX_NUM_BUCKETS } from './buckets';

/** One parameter server: a stable id (survives restarts) and its data-plane address. */
export interface PsEndpoint {
  /** Stable PS id, a non-negative safe integer; unique within a map. */
  id: number;
  /** "host:port" ("[v6addr]:port" for IPv6). */
  addr: string;
  /**
   * With `ps.replication: buddy`, the id of the PS that holds this PS's replica and takes its
   * buckets over if it dies (sharding/buddies.ts); absent: none.
   */
  buddy?: number;
}

/** A versioned assignment of every bucket to one PS. */
export interface ShardMap {
  /**
   * Starts at 1 and grows by 1 per re-plan. Every data-plane request carries it, and a PS on
   * another version refuses the request (FAILED_PRECONDITION).
   */
  version: number;
  /** Number of virtual buckets, in [1, 65536]. */
  numBuckets: number;
  /** The PS; planShardMap sorts them by id. */
  ps: PsEndpoint[];
  /** bucket → index into ps[]. */
  owner: Uint16Array;
}

/** Options of {@link planShardMap}. */
export interface PlanOptions {
  /** Bucket count of a fresh map (default DEFAULT_NUM_BUCKETS); must equal previous.numBuckets. */
  numBuckets?: number;
  /** The map being replaced; the new one moves as few buckets away from it as possible. */
  previous?: ShardMap;
}

/**
 * JSON form of a ShardMap (etcd value, admin RPCs). `owner` is a plain array of ps indices, one per
 * bucket: readable in `etcdctl get`, and about 10 KB at 4096 buckets.
 */
export interface ShardMapJSON {
  version: number;
  numBuckets: number;
  ps: PsEndpoint[];
  owner: number[];
}

function invalid(message: string): TesseraError {
  return new TesseraError(ERROR_CODES.INVALID_ARGUMENT, message);
}

function checkInt(value: unknown, key: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`shard map "${key}" must be an integer in [${min}, ${max}], got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Validates and copies a PS list; `key` names the list in errors ("ps"). */
function checkPsList(value: unknown, key: string): PsEndpoint[] {
  if (!Array.isArray(value) || value.length === 0) throw invalid(`shard map "${key}" must be a non-empty array`);
  if (value.length > MAX_NUM_BUCKETS) throw invalid(`shard map "${key}" has ${value.length} entries, max ${MAX_NUM_BUCKETS}`);
  const seen = new Set<number>();
  return value.map((p: unknown, i) => {
    if (typeof p !== 'object' || p === null) throw invalid(`shard map "${key}[${i}]" must be an object`);
    const { id, addr, buddy } = p as Record<string, unknown>;
    checkInt(id, `${key}[${i}].id`, 0, Number.MAX_SAFE_INTEGER);
    if (seen.has(id as number)) throw invalid(`shard map "${key}[${i}].id" duplicates PS id ${id}`);
    seen.add(id as number);
    const m = typeof addr === 'string' ? /^(.+):(\d{1,5})$/.exec(addr) : null;
    if (m === null || Number(m[2]) < 1 || Number(m[2]) > 65535) {
      throw invalid(`shard map "${key}[${i}].addr" must be "host:port", got ${JSON.stringify(addr)}`);
    }
    if (buddy !== undefined) checkInt(buddy, `${key}[${i}].buddy`, 0, Number.MAX_SAFE_INTEGER);
    return { id: id as number, addr: addr as string, ...(buddy === undefined ? {} : { buddy: buddy as number }) };
  });
}

/** Validates a ShardMap's shape and owner range (used on `previous` and on decoded JSON). */
function checkShardMap(map: ShardMap, key: string): void {
  checkInt(map.version, `${key}version`, 0, Number.MAX_SAFE_INTEGER);
  checkInt(map.numBuckets, `${key}numBuckets`, 1, MAX_NUM_BUCKETS);
  checkPsList(map.ps, `${key}ps`);
  if (!(map.owner instanceof Uint16Array) || map.owner.length !== map.numBuckets) {
    throw invalid(`shard map "${key}owner" must be a Uint16Array of numBuckets (${map.numBuckets}) entries`);
  }
  for (let b = 0; b < map.owner.length; b++) {
    if (map.owner[b] >= map.ps.length) checkInt(map.owner[b], `${key}owner[${b}]`, 0, map.ps.length - 1);
  }
}

/**
 * Moves the fewest buckets from `prev` onto `ps` (sorted by id). Each PS's quota is
 * floor(B/n) or ceil(B/n); the ceil quotas go to the PS already holding the most buckets, which
 * maximises the buckets that stay. Survivors keep buckets up to their quota (lowest bucket numbers
 * first); the rest (removed PS, excess) fill under-quota PS in id order.
 */
function rebalance(ps: PsEndpoint[], prev: ShardMap): Uint16Array {
  const n = ps.length, numBuckets = prev.numBuckets;
  const newIndex = new Map<number, number>(ps.map((p, i) => [p.id, i]));
  const oldToNew = prev.ps.map((p) => newIndex.get(p.id) ?? -1);
  const held = new Int32Array(n);
  for (let b = 0; b < numBuckets; b++) {
    const o = oldToNew[prev.owner[b]];
    if (o >= 0) held[o]++;
  }
  const quota = new Int32Array(n).fill(Math.floor(numBuckets / n));
  const byHeld = ps.map((_, i) => i).sort((x, y) => held[y] - held[x] || x - y);
  for (let k = 0; k < numBuckets % n; k++) quota[byHeld[k]]++;

  const owner = new Uint16Array(numBuckets);
  const kept = new Int32Array(n);
  const orphans: number[] = [];
  for (let b = 0; b < numBuckets; b++) {
    const o = oldToNew[prev.owner[b]];
    if (o >= 0 && kept[o] < quota[o]) {
      owner[b] = o;
      kept[o]++;
    } else {
      orphans.push(b);
    }
  }
  let k = 0;
  for (const b of orphans) {
    while (kept[k] >= quota[k]) k++; // quotas sum to numBuckets, so k stays < n
    owner[b] = k;
    kept[k]++;
  }
  return owner;
}

/**
 * Plans a shard map. Pure and deterministic: the result depends only on the arguments, not on the
 * order of `ps` (the map lists PS sorted by id).
 *
 * Without `previous`: version 1, bucket b → ps[b % n], so every PS owns floor or ceil of
 * numBuckets / n buckets. With `previous`: version = previous.version + 1, same balance, and the
 * minimum number of buckets moves (see {@link movedBuckets}). A PS whose id is in both maps keeps
 * its buckets even if its addr changed. With more PS than buckets, some PS own nothing.
 *
 * ```ts
 * const v1 = planShardMap([{ id: 0, addr: 'ps-0:7000' }, { id: 1, addr: 'ps-1:7000' }]);
 * const v2 = planShardMap([...v1.ps, { id: 2, addr: 'ps-2:7000' }], { previous: v1 });
 * movedBuckets(v1, v2).length; // 1365: only what ps 2 takes over
 * ```
 * @throws TesseraError INVALID_ARGUMENT on no PS, duplicate ids, bad addr, numBuckets outside
 *   [1, 65536], or a numBuckets that differs from previous.numBuckets.
 */
export function planShardMap(ps: PsEndpoint[], opts: PlanOptions = {}): ShardMap {
  const sorted = checkPsList(ps, 'ps').sort((a, b) => a.id - b.id);
  const prev = opts.previous;
  const numBuckets = checkInt(opts.numBuckets ?? prev?.numBuckets ?? DEFAULT_NUM_BUCKETS, 'numBuckets', 1, MAX_NUM_BUCKETS);
  if (prev === undefined) {
    const owner = new Uint16Array(numBuckets);
    for (let b = 0; b < numBuckets; b++) owner[b] = b % sorted.length;
    return { version: 1, numBuckets, ps: sorted, owner };
  }
  checkShardMap(prev, 'previous.');
  if (prev.numBuckets !== numBuckets) {
    throw invalid(`shard map "numBuckets" (${numBuckets}) must equal "previous.numBuckets" (${prev.numBuckets})`);
  }
  return { version: prev.version + 1, numBuckets, ps: sorted, owner: rebalance(sorted, prev) };
}

/**
 * Index into `map.ps` of the PS that owns id (lo, hi).
 *
 * ```ts
 * const addr = map.ps[ownerOf(map, ids[2 * i], ids[2 * i + 1])].addr;
 * ```
 */
export function ownerOf(map: ShardMap, lo: number, hi: number): number {
  return map.owner[bucketOf(lo, hi, map.numBuckets)];
}

/** The buckets owned by `map.ps[psIndex]`, ascending. */
export function bucketsOwnedBy(map: ShardMap, psIndex: number): number[] {
  checkInt(psIndex, 'psIndex', 0, map.ps.length - 1);
  const out: number[] = [];
  for (let b = 0; b < map.numBuckets; b++) if (map.owner[b] === psIndex) out.push(b);
  return out;
}

/**
 * Buckets whose owning PS *id* differs between `a` and `b` (indices may shift between maps, ids do
 * not), ascending. These are the buckets whose rows must migrate.
 */
export function movedBuckets(a: ShardMap, b: ShardMap): number[] {
  if (a.numBuckets !== b.numBuckets) {
    throw invalid(`shard map "numBuckets" differs: ${a.numBuckets} vs ${b.numBuckets}`);
  }
  const out: number[] = [];
  for (let k = 0; k < a.numBuckets; k++) if (a.ps[a.owner[k]].id !== b.ps[b.owner[k]].id) out.push(k);
  return out;
}

/** The JSON form of `map` (see {@link ShardMapJSON}); pass it to JSON.stringify. */
export function shardMapToJSON(map: ShardMap): ShardMapJSON {
  return {
    version: map.version,
    numBuckets: map.numBuckets,
    ps: map.ps.map((p) => ({ id: p.id, addr: p.addr, ...(p.buddy === undefined ? {} : { buddy: p.buddy }) })),
    owner: Array.from(map.owner),
  };
}

/**
 * Decodes and validates a parsed {@link ShardMapJSON} (e.g. `JSON.parse` of the etcd value).
 *
 * ```ts
 * const map = shardMapFromJSON(JSON.parse(kv.value.toString()));
 * ```
 * @throws TesseraError INVALID_ARGUMENT naming the offending key, e.g. `"owner[17]"`.
 */
export function shardMapFromJSON(obj: unknown): ShardMap {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw invalid('shard map must be a JSON object');
  const o = obj as Record<string, unknown>;
  const version = checkInt(o.version, 'version', 0, Number.MAX_SAFE_INTEGER);
  const numBuckets = checkInt(o.numBuckets, 'numBuckets', 1, MAX_NUM_BUCKETS);
  const ps = checkPsList(o.ps, 'ps');
  if (!Array.isArray(o.owner) || o.owner.length !== numBuckets) {
    throw invalid(`shard map "owner" must be an array of numBuckets (${numBuckets}) ps indices`);
  }
  const owner = new Uint16Array(numBuckets);
  for (let b = 0; b < numBuckets; b++) owner[b] = checkInt(o.owner[b], `owner[${b}]`, 0, ps.length - 1);
  return { version, numBuckets, ps, owner };
}
