/**
 * Open-addressing hash index from u64 ids (as two uint32 halves) to row slots.
 *
 * Layout: `keyLo`, `keyHi` (Uint32Array) and `rows` (Int32Array, -1 = empty slot), capacity a
 * power of two, linear probing. About 12 bytes per slot, so 17-34 bytes per key depending on load
 * (DESIGN §4 measured 17-20 bytes per key and ~10 M inserts/s for this layout, versus ~85 bytes
 * and 1.2 M/s for a `Map` with BigInt keys). No per-key JS object or BigInt is ever created.
 *
 * Deletion uses backward shift (Knuth 6.4 Algorithm R), so there are no tombstones and probe
 * lengths never degrade under insert/remove churn (needed for eviction).
 */
import { ERROR_CODES, TesseraError } from '../../common/errors';

/** Grow when an insert would push `size / capacity` above this. */
export const ID_INDEX_MAX_LOAD = 0.7;
/** Smallest capacity the index allocates. */
export const ID_INDEX_MIN_CAPACITY = 16;
/** Largest capacity: 2^30 slots is 12 GiB of index, far beyond one PS. */
export const ID_INDEX_MAX_CAPACITY = 1 << 30;

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
  private keyLo: Uint32Array;
  private keyHi: Uint32Array;
  private rows: Int32Array;
  private mask: number;
  private count = 0;
  private growAt: number;

  /** @param expected number of keys to hold without rehashing (default 0: minimum capacity) */
  constructor(expected = 0) {
    let cap = ID_INDEX_MIN_CAPACITY;
    while (cap < ID_INDEX_MAX_CAPACITY && cap * ID_INDEX_MAX_LOAD < expected) cap *= 2;
    this.keyLo = new Uint32Array(cap);
    this.keyHi = new Uint32Array(cap);
    this.rows = new Int32Array(cap).fill(-1);
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

  /** Bytes held by the slot arrays. */
  bytes(): number {
    return this.keyLo.byteLength + this.keyHi.byteLength + this.rows.byteLength;
  }

  /** Row of id `(lo, hi)`, or -1 when absent. */
  find(lo: number, hi: number): number {
    const { keyLo, keyHi, rows, mask } = this;
    let i = hashId(lo, hi) & mask;
    for (;;) {
      const r = rows[i];
      if (r < 0) return -1;
      if (keyLo[i] === lo && keyHi[i] === hi) return r;
      i = (i + 1) & mask;
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
    const { keyLo, keyHi, rows, mask } = this;
    let i = hashId(lo, hi) & mask;
    for (;;) {
      const r = rows[i];
      if (r < 0) break;
      if (keyLo[i] === lo && keyHi[i] === hi) return r;
      i = (i + 1) & mask;
    }
    keyLo[i] = lo;
    keyHi[i] = hi;
    rows[i] = nextRow;
    this.count++;
    return nextRow;
  }

  /**
   * Sets the row of id `(lo, hi)`, inserting when absent. Returns the previous row or -1.
   */
  set(lo: number, hi: number, row: number): number {
    const r = this.findOrInsert(lo, hi, row);
    if (r === row) return -1;
    this.rows[this.slotOf(lo, hi)] = row;
    return r;
  }

  /** Removes id `(lo, hi)`; returns the row it held, or -1 when absent. */
  remove(lo: number, hi: number): number {
    const i = this.slotOf(lo, hi);
    if (i < 0) return -1;
    const freed = this.rows[i];
    this.backwardShift(i);
    this.count--;
    return freed;
  }

  /** Calls `fn` for every id in slot order. The index must not be modified during iteration. */
  forEach(fn: (lo: number, hi: number, row: number) => void): void {
    const { keyLo, keyHi, rows } = this;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      if (r >= 0) fn(keyLo[i], keyHi[i], r);
    }
  }

  /** Removes every id, keeping the current capacity. */
  clear(): void {
    this.rows.fill(-1);
    this.count = 0;
  }

  private slotOf(lo: number, hi: number): number {
    const { keyLo, keyHi, rows, mask } = this;
    let i = hashId(lo, hi) & mask;
    while (rows[i] >= 0) {
      if (keyLo[i] === lo && keyHi[i] === hi) return i;
      i = (i + 1) & mask;
    }
    return -1;
  }

  /**
   * Empties slot `hole` and moves later entries of the probe run back into it when their home
   * slot does not lie cyclically in `(hole, j]`, so every entry stays reachable from its home.
   */
  private backwardShift(hole: number): void {
    const { keyLo, keyHi, rows, mask } = this;
    let j = hole;
    for (;;) {
      j = (j + 1) & mask;
      const r = rows[j];
      if (r < 0) break;
      const home = hashId(keyLo[j], keyHi[j]) & mask;
      // Entry j may fill the hole unless its home lies cyclically in (hole, j].
      const homeInRange = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (homeInRange) continue;
      keyLo[hole] = keyLo[j];
      keyHi[hole] = keyHi[j];
      rows[hole] = r;
      hole = j;
    }
    rows[hole] = -1;
  }

  /** Doubles the capacity and reinserts every id. Row slots are untouched. */
  private grow(): void {
    const oldCap = this.mask + 1;
    if (oldCap >= ID_INDEX_MAX_CAPACITY) {
      throw new TesseraError(ERROR_CODES.TOO_LARGE, `index: id index is full at ${this.count} ids`);
    }
    const { keyLo: oLo, keyHi: oHi, rows: oRows } = this;
    const cap = oldCap * 2;
    const keyLo = new Uint32Array(cap);
    const keyHi = new Uint32Array(cap);
    const rows = new Int32Array(cap).fill(-1);
    const mask = cap - 1;
    for (let s = 0; s < oldCap; s++) {
      const r = oRows[s];
      if (r < 0) continue;
      const lo = oLo[s];
      const hi = oHi[s];
      let i = hashId(lo, hi) & mask;
      while (rows[i] >= 0) i = (i + 1) & mask;
      keyLo[i] = lo;
      keyHi[i] = hi;
      rows[i] = r;
    }
    this.keyLo = keyLo;
    this.keyHi = keyHi;
    this.rows = rows;
    this.mask = mask;
    this.growAt = Math.floor(cap * ID_INDEX_MAX_LOAD);
  }
}
