/**
 * Batch id de-duplication: a CTR batch repeats hot ids many times, and each unique id should be
 * pulled and pushed once. Uses an open-addressing (linear probing) hash table on typed arrays:
 * no Map, no BigInt, no per-id allocation. Where the native addon is built
 * (src/common/native-rows.ts) the same table is probed natively, with the same result, and a
 * client's batch is deduplicated and sliced by owner in that one pass (`dedupAndSlice`).
 */

import { ERROR_CODES, TesseraError } from '../common/errors';
import { nativeRows } from '../common/native-rows';
import type { IdArray } from '../wire/key-block';
import type { ShardMap } from './shard-map';
import { type Slice, type SliceAlloc, sliceByOwner, slicesIn } from './slicer';

/** Smallest table capacity; avoids regrowing for tiny batches. */
const MIN_CAPACITY = 64;

/**
 * Slot hash of id (lo, hi): folds hi into lo with a golden-ratio multiply, then murmur3's fmix32,
 * so both sequential raw ids and the low bits used by `& mask` are well mixed.
 */
function slotHash(lo: number, hi: number): number {
  let h = lo ^ Math.imul(hi, 0x9e3779b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

/**
 * Reusable de-duplicator. Its hash table only grows (to the largest batch seen), so a training
 * loop that keeps one Deduper and reuses its output buffers allocates nothing per batch.
 *
 * ```ts
 * const dd = new Deduper();
 * const unique = new Uint32Array(maxBatch * 2), inverse = new Uint32Array(maxBatch);
 * for (const ids of batches) {
 *   const k = dd.dedupInto(ids, unique, inverse); // unique[0, 2k) are the distinct ids
 * }
 * ```
 */
export class Deduper {
  /**
   * 4 words a slot: id lo, id hi, 1 + index into the unique output, and the stamp of the call
   * that wrote it. A slot is empty unless it holds this call's stamp, so no call clears the
   * table (one slot is one 16-byte read, where separate key and value arrays were three).
   */
  private table = new Uint32Array(0);
  /** This call's stamp: 1, 2, ... (0 is every fresh slot's); the table is cleared when it wraps. */
  private stamp = 0;
  /** Slots in use for the current batch: a power of two ≤ capacity, sized to the batch. */
  private slots = 0;
  /** The owner of each distinct id (dedupAndSlice's native pass), grown to the largest batch. */
  private owners = new Uint16Array(0);

  /** Allocated table size in slots (a power of two; only grows); exposed for tests and metrics. */
  get capacity(): number {
    return this.table.length >>> 2;
  }

  /**
   * De-duplicates `ids` into caller-owned buffers and returns the number of distinct ids `k`.
   * `unique[0, 2k)` receives the distinct ids in first-occurrence order; `inverse[0, n)` receives,
   * for each input id, its index into unique. `unique` needs ≥ ids.length entries (the all-distinct
   * case) and `inverse` ≥ ids.length / 2.
   */
  dedupInto(ids: IdArray, unique: IdArray, inverse: Uint32Array): number {
    const n = this.prepare(ids, unique, inverse);
    const native = nativeRows(n);
    if (native) return native.dedup(ids, n, this.table, this.slots, this.stamp, unique, inverse);
    return this.dedupJs(ids, n, unique, inverse);
  }

  /**
   * `dedupInto`, then the distinct ids sliced by owner in `map` (`sliceByOwner` of
   * `unique[0, 2k)`: a slice's positions index the distinct ids). Natively one pass: one hash
   * of each id finds its table slot and, for a new distinct id, its bucket and owner.
   *
   * @param alloc where the slices' words come from (3 words an id of `ids`; `SliceAlloc`).
   */
  dedupAndSlice(ids: IdArray, unique: IdArray, inverse: Uint32Array, map: ShardMap, alloc?: SliceAlloc): { count: number; slices: Slice[] } {
    const n = this.prepare(ids, unique, inverse);
    const native = nativeRows(n);
    if (!native) {
      const count = this.dedupJs(ids, n, unique, inverse);
      return { count, slices: sliceByOwner(unique.subarray(0, 2 * count), map, undefined, alloc) };
    }
    if (this.owners.length < n) this.owners = new Uint16Array(this.capacity);
    const counts = new Uint32Array(map.ps.length);
    const words = alloc ? alloc(3 * n) : new Uint32Array(3 * n);
    const count = native.dedupSlice(ids, n, this.table, this.slots, this.stamp, unique, inverse, map.numBuckets, map.owner, this.owners, counts, words);
    return { count, slices: slicesIn(words, counts) };
  }

  private dedupJs(ids: IdArray, n: number, unique: IdArray, inverse: Uint32Array): number {
    const t = this.table, stamp = this.stamp;
    const mask = this.slots - 1;
    let k = 0;
    for (let i = 0; i < n; i++) {
      const lo = ids[2 * i], hi = ids[2 * i + 1];
      let s = slotHash(lo, hi) & mask;
      for (;;) {
        const e = 4 * s;
        if (t[e + 3] !== stamp) {
          t[e] = lo;
          t[e + 1] = hi;
          t[e + 2] = k + 1;
          t[e + 3] = stamp;
          unique[2 * k] = lo;
          unique[2 * k + 1] = hi;
          inverse[i] = k++;
          break;
        }
        if (t[e] === lo && t[e + 1] === hi) {
          inverse[i] = t[e + 2] - 1;
          break;
        }
        s = (s + 1) & mask;
      }
    }
    return k;
  }

  /**
   * Checks the buffers, then uses 2n..4n slots (load factor ≤ 0.5 keeps linear probes short),
   * growing the table if needed, under a fresh stamp. Returns n.
   */
  private prepare(ids: IdArray, unique: IdArray, inverse: Uint32Array): number {
    const n = ids.length >>> 1;
    if (ids.length % 2 !== 0) throw new TesseraError(ERROR_CODES.BAD_IDS, `ids has odd length ${ids.length}`);
    if (unique.length < 2 * n) throw this.tooSmall('unique', unique.length, 2 * n);
    if (inverse.length < n) throw this.tooSmall('inverse', inverse.length, n);
    let slots = MIN_CAPACITY;
    while (slots < 2 * n) slots *= 2;
    if (slots > this.capacity) {
      this.table = new Uint32Array(4 * slots);
      this.stamp = 0;
    }
    if (this.stamp === 0xffffffff) {
      this.table.fill(0);
      this.stamp = 0;
    }
    this.stamp++;
    this.slots = slots;
    return n;
  }

  private tooSmall(name: string, have: number, need: number): TesseraError {
    return new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `${name} holds ${have} entries, need ${need}`);
  }
}
