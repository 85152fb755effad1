/**
 * Virtual buckets: every u64 id maps to one of `numBuckets` buckets, and the shard map assigns
 * buckets (not ids) to parameter servers. Re-sharding then moves whole buckets, and the id →
 * bucket function never changes when PS come and go. This is deliberately NOT `id % numPs`.
 *
 * Definition (pinned by tests; changing it re-shards every table):
 * ```text
 * h      = murmur3_x86_32(8 little-endian bytes of the id, seed BUCKET_HASH_SEED)
 * bucket = floor(h × numBuckets / 2^32)          // "multiply-high" range reduction
 * ```
 * murmur3 mixes both 32-bit halves and ends with the fmix32 finalizer, so sequential raw ids
 * (1, 2, 3, …) and strided ids (k × 4096) spread like random ones. Multiply-high uses the top bits
 * of `h` and, unlike `h % numBuckets`, needs no division and works for any numBuckets ≤ 65536
 * (the product is < 2^48, exact in a double).
 */

import { fmix32 } from '../common/fmix32';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { nativeRows } from '../common/native-rows';
import type { IdArray } from '../wire/key-block';

/** Default number of virtual buckets per table. */
export const DEFAULT_NUM_BUCKETS = 4096;

/** Largest supported bucket count (bucket → PS owners are stored in a Uint16Array by bucket). */
export const MAX_NUM_BUCKETS = 65536;

/**
 * Returns `n` when it is a bucket count (an integer in [1, MAX_NUM_BUCKETS]); otherwise throws
 * INVALID_ARGUMENT naming `key`. For counts that come from a request, before anything is sized by them.
 */
export function checkNumBuckets(n: unknown, key: string): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_NUM_BUCKETS) {
    throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `${key}: ${String(n)} is not a bucket count in [1, ${MAX_NUM_BUCKETS}]`);
  }
  return n;
}

/** Seed of the bucket hash. Fixed forever. */
export const BUCKET_HASH_SEED = 0;

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;
const TWO_POW_32 = 4294967296;

/** One murmur3_x86_32 body step: mixes block `k` into `h`. */
function mixBlock(h: number, k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/**
 * The 32-bit bucket hash of id (lo, hi): murmur3_x86_32 of its 8 little-endian bytes.
 * Exposed for tests and for callers that want a different range reduction.
 */
export function bucketHash(lo: number, hi: number): number {
  let h = mixBlock(mixBlock(BUCKET_HASH_SEED, lo), hi);
  return fmix32(h ^ 8); // murmur3 xors in the input length before finalizing
}

/**
 * The bucket of id (lo, hi), in [0, numBuckets). `numBuckets` is trusted to be an integer in
 * [1, MAX_NUM_BUCKETS] (shard maps validate it once).
 *
 * ```ts
 * const b = bucketOf(ids[2 * i], ids[2 * i + 1], DEFAULT_NUM_BUCKETS);
 * ```
 */
export function bucketOf(lo: number, hi: number, numBuckets: number): number {
  return Math.floor((bucketHash(lo, hi) * numBuckets) / TWO_POW_32);
}

/**
 * Batch form of {@link bucketOf}: `out[i]` = bucket of the i-th id of `ids`.
 * `out` must hold at least `ids.length / 2` entries.
 *
 * ```ts
 * const buckets = new Uint32Array(ids.length >>> 1);
 * bucketsOf(ids, map.numBuckets, buckets);
 * ```
 */
export function bucketsOf(ids: IdArray, numBuckets: number, out: Uint32Array): void {
  const n = ids.length >>> 1;
  if (out.length < n) {
    throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `out holds ${out.length} buckets, need ${n}`);
  }
  for (let i = 0; i < n; i++) {
    out[i] = Math.floor((bucketHash(ids[2 * i], ids[2 * i + 1]) * numBuckets) / TWO_POW_32);
  }
}

/**
 * The index of the first of the `n` ids of `ids` whose bucket (over `owned.length` buckets) has
 * `owned[bucket] === 0`, or -1 when every bucket is owned: a PS's check that a request is its own.
 * Runs natively where the addon is built (src/common/native-rows.ts), with the same result.
 *
 * ```ts
 * const i = firstNotOwned(ids, ids.length >>> 1, owned); // owned: bucket → 1 for this PS's buckets
 * ```
 */
export function firstNotOwned(ids: IdArray, n: number, owned: Uint8Array): number {
  const native = nativeRows(n);
  if (native) return native.firstNotOwned(ids, n, owned);
  const numBuckets = owned.length;
  for (let i = 0; i < n; i++) {
    if (owned[bucketOf(ids[2 * i], ids[2 * i + 1], numBuckets)] === 0) return i;
  }
  return -1;
}
