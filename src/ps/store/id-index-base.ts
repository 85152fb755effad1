/**
 * What the two id indexes share (id-index.ts: 12-byte slots holding the id; tagged-id-index.ts:
 * 8-byte slots holding a 32-bit hash): an open-addressing table of u64 ids (as two uint32 halves)
 * to row slots in one interleaved `Uint32Array`, linear probing, growth, deletion and the sweep.
 *
 * Every slot's last word is `row + 1`, 0 marking an empty slot, so every one of the 2^64 ids
 * (0 included) is a valid key. No per-key JS object or BigInt is ever created (a `Map` with BigInt
 * keys costs ~85 bytes per key and is ~10x slower).
 *
 * Home slot: `floor(hashId(id) * capacity / 2^32)` ("fastrange"), so the capacity need not be a
 * power of two. It grows when an insert would pass load 0.8: ×2 while it has fewer than 2^20
 * slots (at most 12 MiB of index, so a table filling from empty rehashes its ids about once, not
 * four times: a PS's row creation at a job's start), ×1.25 from there on, so the load of a large
 * index stays in about [0.64, 0.8] and it costs 1.25-1.56 slots per key (a small one: 1.25-2.5). The product exceeds 2^53 above 2^21
 * slots, so for a few hashes the home is rounded to the next slot; it is still deterministic and
 * below the capacity (rounding moves the product by at most 2^8, and the largest product is
 * `capacity` below `capacity * 2^32`), which is all probing needs.
 * Growth visits old slots in order, and homes increase with the hash, so rehashing writes the new
 * array almost sequentially.
 *
 * Deletion uses backward shift (Knuth 6.4 Algorithm R), so there are no tombstones and probe
 * lengths do not degrade under insert/remove churn (needed for eviction) as long as removals are
 * spread over the slots: removing ids slot by slot empties one region and crowds the others, so
 * eviction picks its victims by row slot (row-eviction.ts).
 *
 * Word offsets reach 3 * 2^30 - 1, past int32, so they are formed with `*` and `+` (never `<<`,
 * `|` or `&`), which stay exact as doubles at any capacity.
 */
import { ERROR_CODES, TesseraError } from '../../common/errors';

/** Grow when an insert would push `size / capacity` above this. */
export const ID_INDEX_MAX_LOAD = 0.8;
/** Capacity factor of one growth step: load just after growing is about 0.8 / 1.25 = 0.64. */
export const ID_INDEX_GROWTH = 1.25;
/** Capacity factor of one growth step below `ID_INDEX_FAST_GROWTH_BELOW` slots. */
export const ID_INDEX_FAST_GROWTH = 2;
/** Capacity below which the index doubles (a power of two: doubling from the minimum reaches it). */
export const ID_INDEX_FAST_GROWTH_BELOW = 2 ** 20;
/** Smallest capacity an index allocates. */
export const ID_INDEX_MIN_CAPACITY = 16;
/** Largest capacity: 2^30 slots is 8-12 GiB of index, far beyond one PS. */
export const ID_INDEX_MAX_CAPACITY = 2 ** 30;

const TWO_POW_32 = 2 ** 32;

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

/** The capacity one growth step after `cap`. */
export function nextCapacity(cap: number): number {
  if (cap < ID_INDEX_FAST_GROWTH_BELOW) return Math.min(ID_INDEX_FAST_GROWTH_BELOW, cap * ID_INDEX_FAST_GROWTH);
  return Math.min(ID_INDEX_MAX_CAPACITY, Math.ceil(cap * ID_INDEX_GROWTH));
}

/** The capacity an index grows to (from the minimum) to hold `keys` ids. */
export function capacityFor(keys: number): number {
  let cap = ID_INDEX_MIN_CAPACITY;
  while (cap < ID_INDEX_MAX_CAPACITY && Math.floor(cap * ID_INDEX_MAX_LOAD) < keys) cap = nextCapacity(cap);
  return cap;
}

/** Hash index of ids to row slots; the slot format is the subclass's. */
export abstract class IdIndexBase {
  /** `capacity * w` words; slot `i` is words `[i * w, i * w + w)`, the last one `row + 1`. */
  protected slots: Uint32Array;
  protected cap: number;
  /** `capacity / 2^32`: `floor(hash * scale)` is a hash's home slot. */
  protected scale: number;
  protected count = 0;
  protected growAt: number;
  /** Ids removed by the last `sweep`. */
  lastRemoved = 0;

  /**
   * @param expected number of keys to hold without rehashing (0: minimum capacity)
   * @param w uint32 words per slot
   */
  protected constructor(expected: number, private readonly w: number) {
    this.cap = capacityFor(expected);
    this.slots = new Uint32Array(this.cap * w);
    this.scale = this.cap / TWO_POW_32;
    this.growAt = Math.floor(this.cap * ID_INDEX_MAX_LOAD);
  }

  /** Row of id `(lo, hi)`, or -1 when absent. */
  find(lo: number, hi: number): number {
    const b = this.slotOf(lo, hi);
    return b < 0 ? -1 : this.slots[b + this.w - 1] - 1;
  }

  /**
   * Row of id `(lo, hi)`; when absent, inserts it with row `nextRow` and returns `nextRow`.
   * Callers detect insertion by comparing the result with `nextRow`. `lo`/`hi` must be uint32
   * values (as read from a Uint32Array) and `nextRow` a non-negative int32.
   */
  findOrInsert(lo: number, hi: number, nextRow: number): number {
    const b = this.slotOf(lo, hi);
    if (b >= 0) return this.slots[b + this.w - 1] - 1;
    this.insertAt(b, lo, hi, nextRow);
    return nextRow;
  }

  /**
   * Inserts the absent id `(lo, hi)` with `row`, where `absent` is what `slotOf` returned for it
   * (`-1 - b`, b the empty slot ending its probe) with the index unchanged since: growing first
   * when the insert would pass the load limit, which moves that slot.
   */
  private insertAt(absent: number, lo: number, hi: number, row: number): void {
    let b = -1 - absent;
    if (this.count >= this.growAt) {
      this.grow();
      b = -1 - this.slotOf(lo, hi);
    }
    this.writeSlot(b, lo, hi, row + 1);
    this.count++;
  }

  /** Removes id `(lo, hi)`; returns the row it held, or -1 when absent. */
  remove(lo: number, hi: number): number {
    const b = this.slotOf(lo, hi);
    if (b < 0) return -1;
    const freed = this.slots[b + this.w - 1] - 1;
    this.removeAt(b);
    return freed;
  }

  /**
   * Word offset of id `(lo, hi)`'s slot; when absent, `-1 - b` where `b` is the empty slot that
   * ended the probe (where the id would be inserted).
   */
  protected abstract slotOf(lo: number, hi: number): number;

  /** Fills the empty slot at word offset `b` with id `(lo, hi)` and `rowPlusOne`. */
  protected abstract writeSlot(b: number, lo: number, hi: number, rowPlusOne: number): void;

  /** The hash (`hashId`) of the id in the slot at word offset `b`. */
  protected abstract hashAt(b: number): number;

  /** Inserts every entry of `old` into the empty `slots`, whose home scale is `scale`. */
  protected abstract rehash(old: Uint32Array, slots: Uint32Array, scale: number): void;

  /**
   * Rows of the `n` ids (lo, hi pairs) of `ids` into `rows` (-1 when absent); returns how many are
   * absent.
   */
  findAll(ids: Uint32Array, n: number, rows: Int32Array): number {
    let missing = 0;
    for (let i = 0; i < n; i++) {
      const r = this.find(ids[2 * i], ids[2 * i + 1]);
      rows[i] = r;
      if (r < 0) missing++;
    }
    return missing;
  }

  /**
   * Rows of the `n` ids of `ids` into `rows`, inserting the absent ones: `findAll` first (native
   * where the addon is built, src/common/native-rows.ts), then, for each absent id in order,
   * `create(lo, hi)` is called and returns its new row, which it must make `RowIds` hold
   * (tagged-id-index.ts), without changing the index itself. An id absent from `findAll` is
   * probed again before it is created (an earlier copy of it in this batch may have inserted
   * it), and that probe's empty slot is where it goes: one probe per new id.
   */
  findOrInsertAll(ids: Uint32Array, n: number, rows: Int32Array, create: (lo: number, hi: number) => number): void {
    if (this.findAll(ids, n, rows) === 0) return;
    const w = this.w;
    for (let i = 0; i < n; i++) {
      if (rows[i] >= 0) continue;
      const lo = ids[2 * i];
      const hi = ids[2 * i + 1];
      const b = this.slotOf(lo, hi);
      if (b >= 0) {
        rows[i] = this.slots[b + w - 1] - 1;
        continue;
      }
      const r = create(lo, hi);
      this.insertAt(b, lo, hi, r);
      rows[i] = r;
    }
  }

  /** Number of ids held. */
  get size(): number {
    return this.count;
  }

  /** Number of slots. */
  get capacity(): number {
    return this.cap;
  }

  /** Bytes held by the slot array. */
  bytes(): number {
    return this.slots.byteLength;
  }

  /**
   * Calls `fn` for the row of every id in slots `[from, to)` (default: all), in slot order. The
   * index must not be modified meanwhile; a caller that visits it range by range across event-loop
   * turns keeps it unmodified between ranges too (the capacity must not change).
   */
  forEach(fn: (row: number) => void, from = 0, to = this.cap): void {
    const { slots, w } = this;
    const end = Math.min(to, this.cap) * w;
    for (let b = from * w + w - 1; b < end; b += w) {
      const r = slots[b];
      if (r !== 0) fn(r - 1);
    }
  }

  /**
   * Visits up to `maxSlots` slots from slot `from` (wrapping; taken modulo the capacity),
   * removing each id for which `evict(row)` returns true, and stops early once `want` ids are
   * removed. A slot is looked at again after a removal, since backward shift may have moved a
   * later id into it, so no id is skipped (one that wraps from the start of the table to the end
   * may be seen twice). `evict` must not modify the index. Returns the slot to continue from;
   * `lastRemoved` holds the count.
   */
  sweep(from: number, maxSlots: number, want: number, evict: (row: number) => boolean): number {
    const { slots, cap, w } = this;
    let s = from % cap;
    let removed = 0;
    for (let k = 0; k < maxSlots && removed < want; k++) {
      const b = s * w;
      const r = slots[b + w - 1];
      if (r !== 0 && evict(r - 1)) {
        this.removeAt(b);
        removed++;
        continue;
      }
      s++;
      if (s === cap) s = 0;
    }
    this.lastRemoved = removed;
    return s;
  }

  /** Removes every id, keeping the current capacity. */
  clear(): void {
    this.slots.fill(0);
    this.count = 0;
  }

  /** Word offset of the home slot of hash `h`. */
  protected homeOf(h: number): number {
    return Math.floor(h * this.scale) * this.w;
  }

  /**
   * Empties the slot at word offset `hole` and moves later entries of the probe run back into it
   * when their home slot does not lie cyclically in `(hole, j]`, so every entry stays reachable
   * from its home. Offsets are compared directly: they are slot indices times `w`.
   */
  protected removeAt(hole: number): void {
    const { slots, w } = this;
    const end = slots.length;
    let j = hole;
    for (;;) {
      j += w;
      if (j === end) j = 0;
      if (slots[j + w - 1] === 0) break;
      const home = this.homeOf(this.hashAt(j));
      // Entry j may fill the hole unless its home lies cyclically in (hole, j].
      const homeInRange = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (homeInRange) continue;
      for (let k = 0; k < w; k++) slots[hole + k] = slots[j + k];
      hole = j;
    }
    slots[hole + w - 1] = 0;
    this.count--;
  }

  /**
   * Grows the capacity (`nextCapacity`) and reinserts every entry (subclasses call it when `count` reaches
   * `growAt` before an insert). Row slots are untouched.
   */
  protected grow(): void {
    if (this.cap >= ID_INDEX_MAX_CAPACITY) {
      throw new TesseraError(ERROR_CODES.TOO_LARGE, `index: id index is full at ${this.count} ids`);
    }
    const cap = nextCapacity(this.cap);
    const slots = new Uint32Array(cap * this.w);
    const scale = cap / TWO_POW_32;
    this.rehash(this.slots, slots, scale);
    this.slots = slots;
    this.cap = cap;
    this.scale = scale;
    this.growAt = Math.floor(cap * ID_INDEX_MAX_LOAD);
  }
}
