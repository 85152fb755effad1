/**
 * Sharding: feature hashing (raw value → u64 id), virtual buckets (id → bucket), the versioned
 * bucket → PS shard map and its planner, batch de-duplication, and the per-PS slicer.
 *
 * ```ts
 * import { FeatureHasher, planShardMap, Deduper, sliceByOwner, stitchRows } from './sharding';
 * const map = planShardMap(psEndpoints);           // the chief plans and publishes it
 * const c1 = new FeatureHasher('C1');
 * for (let i = 0; i < raws.length; i++) c1.hash(raws[i], ids, i);
 * const k = new Deduper().dedupInto(ids, unique, inverse); // unique[0, 2k): distinct ids
 * const slices = sliceByOwner(unique.subarray(0, 2 * k), map); // one Pull per slice
 * ```
 */

export { xxh64, xxh64Range, xxh64Seeded, xxh64BigInt } from './xxhash64';
export { FIELD_SALT_SEED, type FieldSalt, fieldSalt, FeatureHasher, hashFeature } from './feature-hash';
export { DEFAULT_NUM_BUCKETS, MAX_NUM_BUCKETS, BUCKET_HASH_SEED, bucketHash, bucketOf, bucketsOf } from './buckets';
export {
  type PsEndpoint,
  type ShardMap,
  type PlanOptions,
  type ShardMapJSON,
  planShardMap,
  ownerOf,
  bucketsOwnedBy,
  movedBuckets,
  shardMapToJSON,
  shardMapFromJSON,
} from './shard-map';
export { Deduper } from './dedup';
export { type Slice, type OwnerFn, sliceByOwner, stitchRows, gatherRows } from './slicer';
