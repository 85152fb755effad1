/**
 * Id index without the id in the slot: 2 uint32 words per slot, `[tag, row + 1]`, where the tag is
 * the id's 32-bit hash (`hashId`; id-index-base.ts has the probing, growth, deletion and sweep).
 * The table keeps each row's id in its slot metadata anyway (slot-meta.ts), so a tag match is
 * confirmed there, through the injected `RowIds`. 8 bytes per slot, 10-12.5 bytes per key (load
 * 0.64-0.8), 4-6 bytes less than `IdIndex`.
 *
 * The home slot depends on the tag alone, so growth and deletion move entries without reading
 * ids. Each tag match costs one read of the metadata, a second random memory access per lookup:
 * at 10M rows of dim 16, uniform pulls ran ~20% and pushes ~8% slower than with `IdIndex`, for
 * f16 and f32 rows alike. So f16 tables, the memory option, use this index, and f32 tables keep
 * `IdIndex`. A match fails the confirmation only when another resident id has the same 32-bit
 * hash (for a lookup among n ids, probability about n / 2^32); the probe then goes on.
 */
import { nativeRows } from '../../common/native-rows';
import { hashId, IdIndexBase } from './id-index-base';

/** uint32 words per slot: `[tag, row + 1 (0 = empty)]`. */
const W = 2;
/** Offset of the `row + 1` word within a slot. */
const ROW = 1;
/** Bytes per slot of `TaggedIdIndex`. */
export const TAGGED_ID_INDEX_SLOT_BYTES = 4 * W;

/** Where a `TaggedIdIndex` confirms a tag match: the id each row holds. */
export interface RowIds {
  /** True when row `row` holds id `(lo, hi)`. */
  holds(row: number, lo: number, hi: number): boolean;
}

/**
 * Hash index of ids to row slots, confirming matches in `ids`.
 *
 * ```ts
 * const index = new TaggedIdIndex(1024, meta); // meta.holds(row, lo, hi) confirms a tag match
 * const row = index.findOrInsert(lo, hi, nextRow); // row === nextRow when the id was new
 * ```
 * After inserting a row the caller must make `ids.holds(row, lo, hi)` true before the next call,
 * and keep it true until the id is removed.
 */
export class TaggedIdIndex extends IdIndexBase {
  /**
   * @param expected number of keys to hold without rehashing (0: minimum capacity)
   * @param ids the id of each row, to confirm tag matches
   */
  constructor(expected: number, private readonly ids: RowIds) {
    super(expected, W);
  }

  /**
   * `find` for each id in two passes: first every probe up to its first tag match (native where
   * the addon is built), then the confirmations, so that the memory reads of different ids overlap.
   */
  override findAll(ids: Uint32Array, n: number, rows: Int32Array): number {
    const k = nativeRows(n);
    if (k) k.probeTags(this.slots, this.scale, ids, n, rows);
    else this.probeTags(ids, n, rows);
    const holder = this.ids;
    let missing = 0;
    for (let i = 0; i < n; i++) {
      let r = rows[i];
      if (r >= 0 && !holder.holds(r, ids[2 * i], ids[2 * i + 1])) rows[i] = r = this.find(ids[2 * i], ids[2 * i + 1]);
      if (r < 0) missing++;
    }
    return missing;
  }

  /** The first pass of `findAll` in JavaScript: each id's first tag match, or -1. */
  private probeTags(ids: Uint32Array, n: number, rows: Int32Array): void {
    const { slots, scale } = this;
    const end = slots.length;
    for (let i = 0; i < n; i++) {
      const t = hashId(ids[2 * i], ids[2 * i + 1]);
      let b = Math.floor(t * scale) * W;
      let row = -1;
      for (;;) {
        const r = slots[b + ROW];
        if (r === 0) break;
        if (slots[b] === t) {
          row = r - 1;
          break;
        }
        b += W;
        if (b === end) b = 0;
      }
      rows[i] = row;
    }
  }

  protected hashAt(b: number): number {
    return this.slots[b];
  }

  protected rehash(old: Uint32Array, slots: Uint32Array, scale: number): void {
    const end = slots.length;
    for (let s = 0; s < old.length; s += W) {
      const r = old[s + ROW];
      if (r === 0) continue;
      const t = old[s];
      let b = Math.floor(t * scale) * W;
      while (slots[b + ROW] !== 0) {
        b += W;
        if (b === end) b = 0;
      }
      slots[b] = t;
      slots[b + ROW] = r;
    }
  }

  protected slotOf(lo: number, hi: number): number {
    const { slots, ids } = this;
    const end = slots.length;
    const t = hashId(lo, hi);
    let b = Math.floor(t * this.scale) * W;
    for (;;) {
      const r = slots[b + ROW];
      if (r === 0) return -1 - b;
      if (slots[b] === t && ids.holds(r - 1, lo, hi)) return b;
      b += W;
      if (b === end) b = 0;
    }
  }

  protected writeSlot(b: number, lo: number, hi: number, rowPlusOne: number): void {
    this.slots[b] = hashId(lo, hi);
    this.slots[b + ROW] = rowPlusOne;
  }
}
