/**
 * A count-min sketch of id sightings (Cormode and Muthukrishnan 2005) with conservative update
 * and periodic halving, the frequency filter behind feature admission.
 *
 * `depth` rows of `width` saturating uint8 counters; an id's estimate is the minimum of its
 * `depth` counters, which never undercounts. Conservative update raises only the counters equal to
 * that minimum, which cuts overcounting. After `width × 10` sightings every counter is halved
 * (TinyLFU's "reset"), so the sketch tracks recent frequency and never fills up with saturated
 * counters on an unbounded id stream (10^9 distinct ids would otherwise drive every counter of a
 * 2^20-wide sketch to 255 and admit everything).
 */
import { ERROR_CODES, TesseraError } from '../../common/errors';
import { hashId } from './id-index-base';

/** Counters saturate here; admission thresholds are at most this. */
export const SKETCH_MAX_COUNT = 255;
/** Sightings between two halvings, per counter of one row. */
const RESET_FACTOR = 10;
/** Per-row salts of the slot hash. */
const SALTS = [0x9e3779b9, 0x85ebca6b, 0xc2b2ae35, 0x27d4eb2f, 0x165667b1, 0xd3a2646c, 0xfd7046c5, 0xb55a4f09];
/** Largest depth (one salt each). */
export const SKETCH_MAX_DEPTH = SALTS.length;

/**
 * Frequency estimates of u64 ids.
 *
 * ```ts
 * const cms = new CountMinSketch(1 << 20, 4);
 * cms.add(lo, hi);       // returns the new estimate
 * cms.estimate(lo, hi);  // ≥ the true count since the last halving
 * ```
 */
export class CountMinSketch {
  private readonly counters: Uint8Array;
  private readonly mask: number;
  private readonly resetEvery: number;
  private sinceReset = 0;
  private readonly pos: Int32Array;

  /** @param width counters per row, a power of two; @param depth rows, 1..8 */
  constructor(readonly width: number, readonly depth: number) {
    this.counters = new Uint8Array(width * depth);
    this.mask = width - 1;
    this.resetEvery = width * RESET_FACTOR;
    this.pos = new Int32Array(depth);
  }

  /** Bytes held by the counters. */
  bytes(): number {
    return this.counters.byteLength;
  }

  /** Estimated sightings of `(lo, hi)` since the last halving. */
  estimate(lo: number, hi: number): number {
    let min = SKETCH_MAX_COUNT;
    for (let d = 0; d < this.depth; d++) {
      const c = this.counters[d * this.width + (hashId(lo ^ SALTS[d], hi) & this.mask)];
      if (c < min) min = c;
    }
    return min;
  }

  /** Records one sighting of `(lo, hi)` (conservative update); returns its new estimate. */
  add(lo: number, hi: number): number {
    const { counters, pos, depth, width, mask } = this;
    let min = SKETCH_MAX_COUNT;
    for (let d = 0; d < depth; d++) {
      const p = d * width + (hashId(lo ^ SALTS[d], hi) & mask);
      pos[d] = p;
      if (counters[p] < min) min = counters[p];
    }
    if (min < SKETCH_MAX_COUNT) {
      for (let d = 0; d < depth; d++) if (counters[pos[d]] === min) counters[pos[d]] = min + 1;
      min++;
    }
    if (++this.sinceReset >= this.resetEvery) this.halve();
    return min;
  }

  /**
   * The counters greater than in `sent` (a copy of this sketch's counters, zeros at first, that
   * this call raises to match) as `[cell, count]` pairs: what a migration's target lacks of this
   * sketch, if it has merged every earlier answer (`mergeCells`).
   */
  cellsAbove(sent: Uint8Array): Uint32Array {
    const c = this.counters;
    let n = 0;
    for (let i = 0; i < c.length; i++) if (c[i] > sent[i]) n++;
    const out = new Uint32Array(2 * n);
    let j = 0;
    for (let i = 0; i < c.length && j < out.length; i++) {
      if (c[i] <= sent[i]) continue;
      sent[i] = c[i];
      out[j++] = i;
      out[j++] = c[i];
    }
    return out;
  }

  /**
   * Raises counters to the `[cell, count]` pairs of another sketch of the same shape (a migration's
   * source): the per-cell maximum never undercounts an id of either sketch, and merging the same
   * cells again changes nothing. Throws on a cell or count out of range; nothing is merged then.
   */
  mergeCells(pairs: Uint32Array): number {
    const c = this.counters;
    for (let k = 0; k < pairs.length; k += 2) {
      if (pairs[k] >= c.length || pairs[k + 1] > SKETCH_MAX_COUNT) {
        throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `sketch cell ${pairs[k]} = ${pairs[k + 1]} is outside a ${this.depth} x ${this.width} sketch of counts <= ${SKETCH_MAX_COUNT}`);
      }
    }
    for (let k = 0; k < pairs.length; k += 2) if (pairs[k + 1] > c[pairs[k]]) c[pairs[k]] = pairs[k + 1];
    return pairs.length >>> 1;
  }

  /** Halves every counter (ageing). */
  private halve(): void {
    const c = this.counters;
    for (let i = 0; i < c.length; i++) c[i] >>>= 1;
    this.sinceReset = 0;
  }
}
