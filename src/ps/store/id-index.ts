/**
 * Id index with the whole id in the slot: 3 uint32 words per slot, `[lo, hi, row + 1]`
 * (id-index-base.ts has the probing, growth, deletion and sweep). A probe reads one slot, so a
 * lookup usually touches one cache line (2 of every 16 slots straddle two) and confirms a match
 * without reading anything else. 12 bytes per slot, 15-18.75 bytes per key (load 0.64-0.8). A
 * 4-word slot (`[lo, hi, row + 1, pad]`, never straddling) measured no faster at 10M keys and
 * costs 1/3 more memory.
 *
 * The index of f32 tables. f16 tables, a memory option, use the 8-byte slots of
 * tagged-id-index.ts, which confirm matches in the slot metadata at the cost of one more read.
 */
import { nativeRows } from '../../common/native-rows';
import type { RowSlabLayout } from './f32-row-slabs';
import { hashId, IdIndexBase } from './id-index-base';

export {
  capacityFor, hashId, IdIndexBase, ID_INDEX_FAST_GROWTH, ID_INDEX_FAST_GROWTH_BELOW, ID_INDEX_GROWTH, ID_INDEX_MAX_CAPACITY,
  ID_INDEX_MAX_LOAD, ID_INDEX_MIN_CAPACITY, nextCapacity,
} from './id-index-base';

/** uint32 words per slot: `[lo, hi, row + 1 (0 = empty)]`. */
const W = 3;
/** Offset of the `row + 1` word within a slot. */
const ROW = 2;
/** Bytes per slot of `IdIndex`. */
export const ID_INDEX_SLOT_BYTES = 4 * W;

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
export class IdIndex extends IdIndexBase {
  /** @param expected number of keys to hold without rehashing (default 0: minimum capacity) */
  constructor(expected = 0) {
    super(expected, W);
  }

  /** Rows of the `n` ids of `ids` into `rows` (-1 when absent), natively where the addon is built. */
  override findAll(ids: Uint32Array, n: number, rows: Int32Array): number {
    const k = nativeRows(n);
    return k ? k.probeIds(this.slots, this.scale, ids, n, rows) : super.findAll(ids, n, rows);
  }

  /**
   * `findAll` and the gather of the rows found from `layout` into `out` (row i at
   * `outOff + i * dim`), in one native pass; null where the addon does not run (the caller probes
   * and gathers apart). Rows of absent ids are not written: returns how many there are.
   */
  findAllGathered(ids: Uint32Array, n: number, rows: Int32Array, layout: RowSlabLayout, out: Float32Array, outOff: number): number | null {
    const k = nativeRows(n);
    const { slabs, shift, stride, dim } = layout;
    return k ? k.probeGatherF32(this.slots, this.scale, ids, n, rows, slabs, shift, stride, dim, out, outOff) : null;
  }

  protected hashAt(b: number): number {
    return hashId(this.slots[b], this.slots[b + 1]);
  }

  /** Natively where the addon is built (the same slots: the same order, the same homes). */
  protected rehash(old: Uint32Array, slots: Uint32Array, scale: number): void {
    const k = nativeRows(this.count);
    if (k) {
      k.rehashIds(old, slots, scale);
      return;
    }
    const end = slots.length;
    for (let s = 0; s < old.length; s += W) {
      const r = old[s + ROW];
      if (r === 0) continue;
      const lo = old[s];
      const hi = old[s + 1];
      let b = Math.floor(hashId(lo, hi) * scale) * W;
      while (slots[b + ROW] !== 0) {
        b += W;
        if (b === end) b = 0;
      }
      slots[b] = lo;
      slots[b + 1] = hi;
      slots[b + ROW] = r;
    }
  }

  protected slotOf(lo: number, hi: number): number {
    const slots = this.slots;
    const end = slots.length;
    let b = Math.floor(hashId(lo, hi) * this.scale) * W;
    while (slots[b + ROW] !== 0) {
      if (slots[b] === lo && slots[b + 1] === hi) return b;
      b += W;
      if (b === end) b = 0;
    }
    return -1 - b;
  }

  protected writeSlot(b: number, lo: number, hi: number, rowPlusOne: number): void {
    this.slots[b] = lo;
    this.slots[b + 1] = hi;
    this.slots[b + ROW] = rowPlusOne;
  }
}
