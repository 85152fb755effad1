/**
 * Batch id de-duplication: a CTR batch repeats hot ids many times, and each unique id should be
 * pulled and pushed once. Uses an open-addressing (linear probing) hash table on typed arrays:
 * no Map, no BigInt, no per-id allocation. Where the native addon is built
 * (src/common/native-rows.ts) the same table is probed natively, with the same result.
 */

import { ERROR_CODES, TesseraError } from '../common/errors';
import { nativeRows } from '../common/native-rows';
import type { IdArray } from '../wire/key-block';

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
  private keysLo = new Uint32Array(0);
  private keysHi = new Uint32Array(0);
  /** Slot → 1 + index into the unique output; 0 marks an empty slot. */
  private vals = new Uint32Array(0);
  /** Slots in use for the current batch: a power of two ≤ vals.length, sized to the batch. */
  private slots = 0;

  /** Allocated table size in slots (a power of two; only grows); exposed for tests and metrics. */
  get capacity(): number {
    return this.vals.length;
  }

  /**
   * De-duplicates `ids` into caller-owned buffers and returns the number of distinct ids `k`.
   * `unique[0, 2k)` receives the distinct ids in first-occurrence order; `inverse[0, n)` receives,
   * for each input id, its index into unique. `unique` needs ≥ ids.length entries (the all-distinct
   * case) and `inverse` ≥ ids.length / 2.
   */
  dedupInto(ids: IdArray, unique: IdArray, inverse: Uint32Array): number {
    const n = ids.length >>> 1;
    if (ids.length % 2 !== 0) throw new TesseraError(ERROR_CODES.BAD_IDS, `ids has odd length ${ids.length}`);
    if (unique.length < 2 * n) throw this.tooSmall('unique', unique.length, 2 * n);
    if (inverse.length < n) throw this.tooSmall('inverse', inverse.length, n);
    this.prepare(n);
    const keysLo = this.keysLo, keysHi = this.keysHi, vals = this.vals;
    const native = nativeRows(n);
    if (native) return native.dedup(ids, n, keysLo, keysHi, vals, this.slots, unique, inverse);
    const mask = this.slots - 1;
    let k = 0;
    for (let i = 0; i < n; i++) {
      const lo = ids[2 * i], hi = ids[2 * i + 1];
      let s = slotHash(lo, hi) & mask;
      for (;;) {
        const v = vals[s];
        if (v === 0) {
          keysLo[s] = lo;
          keysHi[s] = hi;
          vals[s] = k + 1;
          unique[2 * k] = lo;
          unique[2 * k + 1] = hi;
          inverse[i] = k++;
          break;
        }
        if (keysLo[s] === lo && keysHi[s] === hi) {
          inverse[i] = v - 1;
          break;
        }
        s = (s + 1) & mask;
      }
    }
    return k;
  }

  /**
   * Uses 2n..4n slots (load factor ≤ 0.5 keeps linear probes short), growing the arrays if needed,
   * and clears only those slots, so a small batch after a huge one stays cheap.
   */
  private prepare(n: number): void {
    let slots = MIN_CAPACITY;
    while (slots < 2 * n) slots *= 2;
    if (slots > this.vals.length) {
      this.keysLo = new Uint32Array(slots);
      this.keysHi = new Uint32Array(slots);
      this.vals = new Uint32Array(slots);
    } else {
      this.vals.fill(0, 0, slots);
    }
    this.slots = slots;
  }

  private tooSmall(name: string, have: number, need: number): TesseraError {
    return new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `${name} holds ${have} entries, need ${need}`);
  }
}
