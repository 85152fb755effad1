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
 *
 * Regions. Each row is cut into `regions` equal runs of counters, and an id counts only in the
 * run of its region, the top bits of its bucket hash (`bucketOf(id, regions)`): up to 4,096
 * regions, each at least 64 counters wide. A region then holds the ids of whole buckets only
 * (when the job's bucket count is a power of two up to the region count; else of neighbouring
 * ones), so a migration moves exactly the counters of the moving buckets' ids and the target's
 * estimates of its own ids stay as they were (migrated-meta.ts). Within a region each row hashes
 * ids independently, as without regions.
 */
import { ERROR_CODES, TesseraError } from '../../common/errors';
import { bucketOf } from '../../sharding/buckets';
import { hashId } from './id-index-base';

/** Counters saturate here; admission thresholds are at most this. */
export const SKETCH_MAX_COUNT = 255;
/** Sightings between two halvings, per counter of one row. */
const RESET_FACTOR = 10;
/** Per-row salts of the slot hash. */
const SALTS = [0x9e3779b9, 0x85ebca6b, 0xc2b2ae35, 0x27d4eb2f, 0x165667b1, 0xd3a2646c, 0xfd7046c5, 0xb55a4f09];
/** Largest depth (one salt each). */
export const SKETCH_MAX_DEPTH = SALTS.length;
/** Most regions per row (the default bucket count), and the fewest counters a region has. */
const MAX_REGIONS = 4096;
const MIN_REGION_WIDTH = 64;

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
  /** Regions per row (a power of two) and counters per region. */
  readonly regions: number;
  readonly regionWidth: number;
  private readonly counters: Uint8Array;
  private readonly mask: number;
  private readonly resetEvery: number;
  private sinceReset = 0;
  private readonly pos: Int32Array;

  /** @param width counters per row, a power of two; @param depth rows, 1..8 */
  constructor(readonly width: number, readonly depth: number) {
    this.counters = new Uint8Array(width * depth);
    this.regions = Math.max(1, Math.min(MAX_REGIONS, width / MIN_REGION_WIDTH));
    this.regionWidth = width / this.regions;
    this.mask = this.regionWidth - 1;
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
    const base = bucketOf(lo, hi, this.regions) * this.regionWidth;
    for (let d = 0; d < this.depth; d++) {
      const c = this.counters[d * this.width + base + (hashId(lo ^ SALTS[d], hi) & this.mask)];
      if (c < min) min = c;
    }
    return min;
  }

  /** Records one sighting of `(lo, hi)` (conservative update); returns its new estimate. */
  add(lo: number, hi: number): number {
    const { counters, pos, depth, width, mask } = this;
    let min = SKETCH_MAX_COUNT;
    const base = bucketOf(lo, hi, this.regions) * this.regionWidth;
    for (let d = 0; d < depth; d++) {
      const p = d * width + base + (hashId(lo ^ SALTS[d], hi) & mask);
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
   * The counters of the regions with `inRegion[r] === 1` that differ from `sent` (a copy of
   * this sketch's counters, `copyCounters`, that this call brings up to date for those regions;
   * null: every counter of those regions goes), as `[cell, count]` pairs: what a migration's target lacks, if it has set every earlier
   * answer (`setCells`).
   */
  changedCells(inRegion: Uint8Array, sent: Uint8Array | null): Uint32Array {
    const { counters: c, width, regionWidth: rw } = this;
    // Only the wanted regions' runs are looked at: two passes, to size the answer first.
    const each = (fn: (i: number) => void): void => {
      for (let d = 0; d < this.depth; d++) {
        for (let r = 0; r < this.regions; r++) {
          if (inRegion[r] !== 1) continue;
          const end = d * width + (r + 1) * rw;
          for (let i = end - rw; i < end; i++) if (sent === null || c[i] !== sent[i]) fn(i);
        }
      }
    };
    let n = 0;
    each(() => { n++; });
    const out = new Uint32Array(2 * n);
    let j = 0;
    each((i) => {
      out[j++] = i;
      out[j++] = c[i];
      if (sent) sent[i] = c[i];
    });
    return out;
  }

  /** A copy of the counters (the baseline `changedCells` brings up to date). */
  copyCounters(): Uint8Array {
    return this.counters.slice();
  }

  /**
   * Takes another sketch's counters, of the same shape, as `[cell, count]` pairs: a counter of a
   * region with `own[r] === 1` (it holds only ids this sketch takes over) is set; any other is
   * raised to the maximum of the two, which never undercounts an id of either sketch. Throws on a
   * cell or count out of range before anything changes. Returns the pairs taken.
   */
  setCells(pairs: Uint32Array, own: Uint8Array): number {
    const { counters: c, width, regionWidth: rw } = this;
    for (let k = 0; k < pairs.length; k += 2) {
      if (pairs[k] >= c.length || pairs[k + 1] > SKETCH_MAX_COUNT) {
        throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `sketch cell ${pairs[k]} = ${pairs[k + 1]} is outside a ${this.depth} x ${width} sketch of counts <= ${SKETCH_MAX_COUNT}`);
      }
    }
    for (let k = 0; k < pairs.length; k += 2) {
      const i = pairs[k];
      if (own[((i & (width - 1)) / rw) | 0] === 1 || pairs[k + 1] > c[i]) c[i] = pairs[k + 1];
    }
    return pairs.length >>> 1;
  }

  /**
   * Regions (region → 1) whose ids all fall in the buckets with `buckets[b] === 1`, or, with
   * `any`, some of them; `buckets.length` is the bucket count.
   */
  regionsOf(buckets: Uint8Array, any: boolean): Uint8Array {
    const nb = buckets.length;
    const out = new Uint8Array(this.regions);
    for (let r = 0; r < this.regions; r++) {
      // Region r spans bucket hashes [r, r + 1) × 2^32 / regions: buckets first..last at nb.
      const first = Math.floor((r * nb) / this.regions);
      const last = Math.ceil(((r + 1) * nb) / this.regions) - 1;
      let all = true;
      let some = false;
      for (let b = first; b <= last; b++) {
        if (buckets[b] === 1) some = true;
        else all = false;
      }
      out[r] = (any ? some : all) ? 1 : 0;
    }
    return out;
  }

  /** Halves every counter (ageing). */
  private halve(): void {
    const c = this.counters;
    for (let i = 0; i < c.length; i++) c[i] >>>= 1;
    this.sinceReset = 0;
  }
}
