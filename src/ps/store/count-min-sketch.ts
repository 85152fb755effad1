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

  /** Halves every counter (ageing). */
  private halve(): void {
    const c = this.counters;
    for (let i = 0; i < c.length; i++) c[i] >>>= 1;
    this.sinceReset = 0;
  }
}
