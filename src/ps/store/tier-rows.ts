/**
 * An embedding table's side of the disk tier (ADR 0012): encodes a row slot into a record,
 * spills it, and loads it back into a slot bit-exactly, with hit/miss/spill counters and a
 * reload-latency histogram. The table owns the ordering (embedding-table.ts): a row leaves RAM
 * only as an unpinned eviction victim, and comes back inside the request that needs it.
 *
 * The record format is in tier-record.ts.
 */
import { decodeF16 } from '../../wire/f16';
import type { RowSlots } from './row-slots';
import { readTierKey, TIER_KEY_BYTES, TableTier, writeTierKey } from './row-tier';
import { recordLayout, TierRecord, TierRecordLayout } from './tier-record';
import type { TierCut } from './tier-snapshot';

/** Reload latency buckets, seconds: a reload is a B-tree lookup in a memory map plus a copy. */
export const TIER_RELOAD_BUCKETS_S = [1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2];

/** Disk-tier counters of one table. */
export interface TierCounters {
  /** spilled rows loaded back on access */
  hits: number;
  /** ids looked up on disk and not found (then created fresh, or refused by admission) */
  misses: number;
  /** rows written to disk by budget eviction */
  spills: number;
  /** rows on disk now */
  rows: number;
  /** reload latency: counts per `TIER_RELOAD_BUCKETS_S` bucket (not cumulative) plus +Inf, sum in seconds */
  reload: { counts: number[]; sum: number };
}

/** Spills and reloads the rows of one table. */
export class TierRows {
  readonly counters: TierCounters = {
    hits: 0, misses: 0, spills: 0, rows: 0, reload: { counts: new Array<number>(TIER_RELOAD_BUCKETS_S.length + 1).fill(0), sum: 0 },
  };
  /** The checkpoint reader of the snapshot being written, which must see rows leave the tier. */
  cut: TierCut | null = null;
  /** Told each id whose record leaves the tier (reloaded, overwritten, deleted): a replication full copy walking the tier. */
  onLeave: ((lo: number, hi: number) => void) | null = null;
  readonly layout: TierRecordLayout;
  private readonly rec: TierRecord;
  private readonly key = new Uint8Array(TIER_KEY_BYTES);
  private readonly shift: number;
  private readonly mask: number;
  private takenAt = 0;

  constructor(readonly store: TableTier, private readonly slots: RowSlots) {
    const { storage } = slots;
    this.layout = recordLayout(storage.dim, storage.stateWidth, storage.format === 'f16');
    this.rec = new TierRecord(this.layout);
    this.shift = Math.log2(storage.slabRows);
    this.mask = storage.slabRows - 1;
  }

  /** Writes slot `r` (id `(lo, hi)`) to the tier, tagged with snapshot generation `gen`. */
  spill(r: number, lo: number, hi: number, gen: number): void {
    const { dim, stateWidth: sw } = this.layout;
    const v = this.slots.storage.slabView(r >>> this.shift);
    const i = r & this.mask;
    const { weights, state, header } = this.rec;
    header[0] = this.slots.meta.stampOf(r);
    header[1] = gen;
    const w = i * v.wStride;
    for (let j = 0; j < dim; j++) weights[j] = v.weights[w + j];
    const s = v.sOff + i * v.sStride;
    for (let j = 0; j < sw; j++) state[j] = v.state[s + j];
    this.store.put(writeTierKey(this.key, lo, hi), this.rec.bytes);
    this.counters.spills++;
    this.counters.rows++;
  }

  /**
   * Takes the record of `(lo, hi)` off the tier into this object's scratch (then `restore` puts
   * it in a slot). False, counted as a miss, when the id is not on disk.
   */
  take(lo: number, hi: number): boolean {
    this.takenAt = performance.now();
    const key = writeTierKey(this.key, lo, hi);
    const found = this.store.get(key);
    if (!found) {
      this.counters.misses++;
      return false;
    }
    this.rec.load(found);
    this.cut?.keep(key, this.rec);
    this.store.delete(key);
    this.counters.rows--;
    this.onLeave?.(lo, hi);
    return true;
  }

  /** Writes the record `take` found into slot `r` bit-exactly, with its change stamp. */
  restore(r: number): void {
    this.slots.writeRow(r, this.rec.weights, 0, this.rec.state, 0, true, this.rec.stamp);
    this.counters.hits++;
    this.observe((performance.now() - this.takenAt) / 1000);
  }

  /** True when `(lo, hi)` is on the tier (nothing is loaded or counted). */
  has(lo: number, hi: number): boolean {
    return this.store.get(writeTierKey(this.key, lo, hi)) !== undefined;
  }

  /** Reads the weights of spilled `(lo, hi)` as float32 into `out[off..]` without loading it; false if absent. */
  peek(lo: number, hi: number, out: Float32Array, off: number): boolean {
    const found = this.store.get(writeTierKey(this.key, lo, hi));
    if (!found) return false;
    const w = this.rec.load(found).weights;
    if (w instanceof Uint16Array) decodeF16(w, out, 0, off);
    else out.set(w, off);
    return true;
  }

  /**
   * Reads spilled `(lo, hi)` without loading it: weights as float32 into `w[wOff..]`, state into
   * `s[sOff..]`. False if it is not on the tier.
   */
  read(lo: number, hi: number, w: Float32Array, wOff: number, s: Float32Array, sOff: number): boolean {
    const found = this.store.get(writeTierKey(this.key, lo, hi));
    if (!found) return false;
    const rec = this.rec.load(found);
    if (rec.weights instanceof Uint16Array) decodeF16(rec.weights, w, 0, wOff);
    else w.set(rec.weights, wOff);
    s.set(rec.state, sOff);
    return true;
  }

  /**
   * Visits up to `limit` spilled rows with ids after `after` (`[lo, hi]`, in key order: hi, then
   * lo; null: from the first), each decoded into a scratch record valid during its call; `fn` must
   * not change this tier. Returns the last id visited and whether the walk reached the end.
   */
  scan(after: readonly [number, number] | null, limit: number, fn: (lo: number, hi: number, rec: TierRecord) => void): { last: [number, number] | null; done: boolean } {
    const start = after ? writeTierKey(new Uint8Array(TIER_KEY_BYTES), after[0], after[1]) : null;
    let last: [number, number] | null = after ? [after[0], after[1]] : null;
    const seen = this.store.scan(start, limit, (key, value) => {
      last = readTierKey(key);
      fn(last[0], last[1], this.rec.load(value));
    });
    return { last, done: seen < limit };
  }

  /**
   * Stores `rec` (a record of another table of this layout: a replica's, at a promotion) as
   * spilled row `(lo, hi)`, with change stamp `stamp` and snapshot generation `gen`.
   */
  adopt(lo: number, hi: number, rec: TierRecord, stamp: number, gen: number): void {
    const key = writeTierKey(this.key, lo, hi);
    const found = this.store.get(key);
    if (found) this.cut?.keep(key, this.rec.load(found));
    else this.counters.rows++;
    this.rec.load(rec.bytes);
    this.rec.header[0] = stamp;
    this.rec.header[1] = gen;
    this.store.put(key, this.rec.bytes);
  }

  /** Removes `(lo, hi)` from the tier if it is there (the row is being overwritten or deleted). */
  discard(lo: number, hi: number): boolean {
    const key = writeTierKey(this.key, lo, hi);
    const found = this.store.get(key);
    if (!found) return false;
    this.cut?.keep(key, this.rec.load(found));
    this.store.delete(key);
    this.counters.rows--;
    this.onLeave?.(lo, hi);
    return true;
  }

  /** Removes every spilled row whose id `inSet` accepts (every row when null). */
  clear(inSet: ((lo: number, hi: number) => boolean) | null): number {
    if (!inSet) {
      const n = this.counters.rows;
      this.store.clear();
      this.counters.rows = 0;
      return n;
    }
    const doomed: Uint8Array[] = [];
    let after: Uint8Array | null = null;
    for (;;) {
      let last: Uint8Array | null = null;
      const seen = this.store.scan(after, 4096, (key) => {
        last = Uint8Array.from(key);
        const lo = ((key[4] << 24) | (key[5] << 16) | (key[6] << 8) | key[7]) >>> 0;
        const hi = ((key[0] << 24) | (key[1] << 16) | (key[2] << 8) | key[3]) >>> 0;
        if (inSet(lo, hi)) doomed.push(Uint8Array.from(key));
      });
      if (seen < 4096) break;
      after = last;
    }
    for (const key of doomed) this.store.delete(key);
    this.counters.rows -= doomed.length;
    return doomed.length;
  }

  /** Makes staged spills and removals durable in the store (end of every table call). */
  commit(): void {
    this.store.commit();
  }

  private observe(seconds: number): void {
    const { counts } = this.counters.reload;
    let b = 0;
    while (b < TIER_RELOAD_BUCKETS_S.length && seconds > TIER_RELOAD_BUCKETS_S[b]) b++;
    counts[b]++;
    this.counters.reload.sum += seconds;
  }
}
