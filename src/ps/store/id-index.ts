/**
 * Open-addressing hash index from u64 ids (as two uint32 halves) to row slots.
 *
 * Layout: one interleaved `Uint32Array` of 3 words per slot, `[lo, hi, row + 1]`, capacity a
 * power of two, linear probing. A probe reads one slot, so a lookup usually touches one cache line
 * (2 of every 16 slots straddle two), where three parallel arrays touched three. Row word 0 marks
 * an empty slot, so every one of the 2^64 ids (0 included) is a valid key. 12 bytes per slot,
 * 17-34 bytes per key depending on load. A 4-word slot (`[lo, hi, row + 1, pad]`, never
 * straddling) measured no faster at 10M keys and costs 1/3 more memory. No per-key JS object or
 * BigInt is ever created (a `Map` with BigInt keys costs ~85 bytes per key and is ~10x slower).
 *
 * Deletion uses backward shift (Knuth 6.4 Algorithm R), so there are no tombstones and probe
 * lengths never degrade under insert/remove churn (needed for eviction).
 *
 * Word offsets go up to 3 * 2^30 - 3, past int32, so they are formed with `*` and `+` (never
 * `<<`, `|` or `&`), which stay exact as doubles at any capacity.
 */
import { ERROR_CODES, TesseraError } from '../../common/errors';

/** Grow when an insert would push `size / capacity` above this. */
export const ID_INDEX_MAX_LOAD = 0.7;
/** Smallest capacity the index allocates. */
export const ID_INDEX_MIN_CAPACITY = 16;
/** Largest capacity: 2^30 slots is 12 GiB of index, far beyond one PS. */
export const ID_INDEX_MAX_CAPACITY = 1 << 30;

/** uint32 words per slot: `[lo, hi, row + 1 (0 = empty)]`. */
const W = 3;
/** Offset of the `row + 1` word within a slot. */
const ROW = 2;

/** Slot hash of an id: murmur3-style mix of both halves (ids are often sequential or share hi). */
export function hashId(lo: number, hi: number): number {
  let h = lo ^ Math.imul(hi ^ (hi >>> 16), 0x85ebca6b);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Hash index of ids to row slots.
 *
 * ```ts
 * const index = new IdIndex(1024);
 * const row = index.findOrInsert(lo, hi, nextRow); // row === nextRow when the id was new
 * index.find(lo, hi);   // row, or -1
 * index.remove(lo, hi); // the freed row, or -1
 * ```
 */
export class IdIndex {
  /** `capacity * W` words; slot `i` is words `[i * W, i * W + W)`. */
  private slots: Uint32Array;
  private mask: number;
  private count = 0;
  private growAt: number;
  /** Ids removed by the last `sweep`. */
  lastRemoved = 0;

  /** @param expected number of keys to hold without rehashing (default 0: minimum capacity) */
  constructor(expected = 0) {
    let cap = ID_INDEX_MIN_CAPACITY;
    while (cap < ID_INDEX_MAX_CAPACITY && cap * ID_INDEX_MAX_LOAD < expected) cap *= 2;
    this.slots = new Uint32Array(cap * W);
    this.mask = cap - 1;
    this.growAt = Math.floor(cap * ID_INDEX_MAX_LOAD);
  }

  /** Number of ids held. */
  get size(): number {
    return this.count;
  }

  /** Number of slots (a power of two). */
  get capacity(): number {
    return this.mask + 1;
  }

  /** Bytes held by the slot array. */
  bytes(): number {
    return this.slots.byteLength;
  }

  /** Row of id `(lo, hi)`, or -1 when absent. */
  find(lo: number, hi: number): number {
    const { slots, mask } = this;
    const end = slots.length;
    let b = (hashId(lo, hi) & mask) * W;
    for (;;) {
      const r = slots[b + ROW];
      if (r === 0) return -1;
      if (slots[b] === lo && slots[b + 1] === hi) return r - 1;
      b += W;
      if (b === end) b = 0;
    }
  }

  /**
   * Row of id `(lo, hi)`; when absent, inserts it with row `nextRow` and returns `nextRow`.
   * Callers detect insertion by comparing the result with `nextRow`. `lo`/`hi` must be uint32
   * values (as read from a Uint32Array) and `nextRow` a non-negative int32.
   */
  findOrInsert(lo: number, hi: number, nextRow: number): number {
    if (this.count >= this.growAt) {
      const r = this.find(lo, hi);
      if (r >= 0) return r;
      this.grow();
    }
    const { slots, mask } = this;
    const end = slots.length;
    let b = (hashId(lo, hi) & mask) * W;
    for (;;) {
      const r = slots[b + ROW];
      if (r === 0) break;
      if (slots[b] === lo && slots[b + 1] === hi) return r - 1;
      b += W;
      if (b === end) b = 0;
    }
    slots[b] = lo;
    slots[b + 1] = hi;
    slots[b + ROW] = nextRow + 1;
    this.count++;
    return nextRow;
  }

  /**
   * Sets the row of id `(lo, hi)`, inserting when absent. Returns the previous row or -1.
   */
  set(lo: number, hi: number, row: number): number {
    const r = this.findOrInsert(lo, hi, row);
    if (r === row) return -1;
    this.slots[this.slotOf(lo, hi) + ROW] = row + 1;
    return r;
  }

  /** Removes id `(lo, hi)`; returns the row it held, or -1 when absent. */
  remove(lo: number, hi: number): number {
    const b = this.slotOf(lo, hi);
    if (b < 0) return -1;
    const freed = this.slots[b + ROW] - 1;
    this.backwardShift(b);
    this.count--;
    return freed;
  }

  /** Calls `fn` for every id in slot order. The index must not be modified during iteration. */
  forEach(fn: (lo: number, hi: number, row: number) => void): void {
    const slots = this.slots;
    for (let b = 0; b < slots.length; b += W) {
      const r = slots[b + ROW];
      if (r !== 0) fn(slots[b], slots[b + 1], r - 1);
    }
  }

  /**
   * Visits up to `maxSlots` slots from slot `from` (wrapping), removing each id for which
   * `evict(row)` returns true, and stops early once `want` ids are removed. A slot is looked at
   * again after a removal, since backward shift may have moved a later id into it, so no id is
   * skipped (one that wraps from the start of the table to the end may be seen twice). `evict`
   * must not modify the index. Returns the slot to continue from; `lastRemoved` holds the count.
   */
  sweep(from: number, maxSlots: number, want: number, evict: (row: number) => boolean): number {
    const slots = this.slots;
    const mask = this.mask;
    let s = from & mask;
    let removed = 0;
    for (let k = 0; k < maxSlots && removed < want; k++) {
      const b = s * W;
      const r = slots[b + ROW];
      if (r !== 0 && evict(r - 1)) {
        this.backwardShift(b);
        this.count--;
        removed++;
        continue;
      }
      s = (s + 1) & mask;
    }
    this.lastRemoved = removed;
    return s;
  }

  /** Removes every id, keeping the current capacity. */
  clear(): void {
    this.slots.fill(0);
    this.count = 0;
  }

  /** Word offset of id `(lo, hi)`'s slot, or -1 when absent. */
  private slotOf(lo: number, hi: number): number {
    const { slots, mask } = this;
    const end = slots.length;
    let b = (hashId(lo, hi) & mask) * W;
    while (slots[b + ROW] !== 0) {
      if (slots[b] === lo && slots[b + 1] === hi) return b;
      b += W;
      if (b === end) b = 0;
    }
    return -1;
  }

  /**
   * Empties the slot at word offset `hole` and moves later entries of the probe run back into it
   * when their home slot does not lie cyclically in `(hole, j]`, so every entry stays reachable
   * from its home. Offsets are compared directly: they are slot indices times `W`.
   */
  private backwardShift(hole: number): void {
    const { slots, mask } = this;
    const end = slots.length;
    let j = hole;
    for (;;) {
      j += W;
      if (j === end) j = 0;
      const r = slots[j + ROW];
      if (r === 0) break;
      const lo = slots[j];
      const hi = slots[j + 1];
      const home = (hashId(lo, hi) & mask) * W;
      // Entry j may fill the hole unless its home lies cyclically in (hole, j].
      const homeInRange = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (homeInRange) continue;
      slots[hole] = lo;
      slots[hole + 1] = hi;
      slots[hole + ROW] = r;
      hole = j;
    }
    slots[hole + ROW] = 0;
  }

  /** Doubles the capacity and reinserts every id. Row slots are untouched. */
  private grow(): void {
    const oldCap = this.mask + 1;
    if (oldCap >= ID_INDEX_MAX_CAPACITY) {
      throw new TesseraError(ERROR_CODES.TOO_LARGE, `index: id index is full at ${this.count} ids`);
    }
    const old = this.slots;
    const cap = oldCap * 2;
    const slots = new Uint32Array(cap * W);
    const mask = cap - 1;
    const end = slots.length;
    for (let s = 0; s < old.length; s += W) {
      const r = old[s + ROW];
      if (r === 0) continue;
      const lo = old[s];
      const hi = old[s + 1];
      let b = (hashId(lo, hi) & mask) * W;
      while (slots[b + ROW] !== 0) {
        b += W;
        if (b === end) b = 0;
      }
      slots[b] = lo;
      slots[b + 1] = hi;
      slots[b + ROW] = r;
    }
    this.slots = slots;
    this.mask = mask;
    this.growAt = Math.floor(cap * ID_INDEX_MAX_LOAD);
  }
}
