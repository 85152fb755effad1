/**
 * The disk-tier half of a table snapshot (ADR 0012): after the RAM slabs, a checkpoint streams
 * the rows that were spilled at the cut, in batches, while the table keeps serving.
 *
 * What "on disk at the cut" means, with the tier changing under the reader:
 * - every record carries the table's snapshot generation at its spill; the cut takes generation
 *   `cutGen` and bumps the table's, so a record with `gen >= cutGen` was spilled after the cut.
 *   Such a row was in RAM at the cut, and the RAM snapshot (copy-on-write) emits it; here it is
 *   skipped;
 * - a record that leaves the tier after the cut (reloaded, overwritten, deleted) before the reader
 *   has passed its key is handed to `keep` first, and emitted from that copy at the end. Its RAM
 *   reincarnation sits in a slot that was free at the cut, or past it, so RAM never emits it too.
 * The reader scans by key from where it stopped, so memory stays one batch plus the kept copies.
 */
import { bucketOf } from '../../sharding/buckets';
import { readTierKey, TableTier } from './row-tier';
import type { SnapshotBatch } from './table-snapshot';
import { TierRecord, TierRecordLayout } from './tier-record';

/** What the reader emits: the snapshot's table, filter and batch size. */
export interface TierCutInit {
  table: string;
  store: TableTier;
  layout: TierRecordLayout;
  cutGen: number;
  sinceEpoch: number;
  numBuckets: number;
  owned: Uint8Array | null;
  batchRows: number;
}

function compareKeys(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < 8; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** Copy-on-take reader of one table's spilled rows at a cut. */
export class TierCut {
  private last: Uint8Array | null = null;
  private scanned = false;
  private readonly kept = new Map<string, Uint8Array>();
  private readonly rec: TierRecord;

  constructor(private readonly init: TierCutInit) {
    this.rec = new TierRecord(init.layout);
  }

  /** Rows kept because they left the tier before being read. */
  get keptRows(): number {
    return this.kept.size;
  }

  /** Call before the record of `key` (decoded in `rec`) leaves the tier or is overwritten. */
  keep(key: Uint8Array, rec: TierRecord): void {
    if (this.scanned || rec.gen >= this.init.cutGen) return;
    if (this.last && compareKeys(key, this.last) <= 0) return;
    const k = Buffer.from(key).toString('latin1');
    if (!this.kept.has(k)) this.kept.set(k, rec.bytes.slice());
  }

  /** The next batch of spilled rows at the cut, sorted by bucket; null when done. */
  next(): SnapshotBatch | null {
    const picked: { key: Uint8Array; rec: Uint8Array }[] = [];
    const { store, batchRows, cutGen } = this.init;
    while (!this.scanned && picked.length === 0) {
      let last: Uint8Array | null = null;
      const seen = store.scan(this.last, batchRows, (key, value) => {
        last = Uint8Array.from(key);
        if (this.rec.load(value).gen < cutGen && this.wanted(key, this.rec)) picked.push({ key: last, rec: Uint8Array.from(value) });
      });
      if (last) this.last = last;
      if (seen < batchRows) this.scanned = true;
    }
    if (picked.length === 0 && this.kept.size > 0) {
      for (const [k, rec] of this.kept) {
        const key = Buffer.from(k, 'latin1');
        if (this.wanted(key, this.rec.load(rec))) picked.push({ key, rec });
      }
      this.kept.clear();
    }
    return picked.length === 0 ? null : this.batch(picked);
  }

  private wanted(key: Uint8Array, rec: TierRecord): boolean {
    const { sinceEpoch, owned, numBuckets } = this.init;
    if (rec.stamp < sinceEpoch) return false;
    if (!owned) return true;
    const [lo, hi] = readTierKey(key);
    return owned[bucketOf(lo, hi, numBuckets)] === 1;
  }

  /** Decodes `picked` into a batch sorted by bucket (stable counting sort). */
  private batch(picked: { key: Uint8Array; rec: Uint8Array }[]): SnapshotBatch {
    const { dim, stateWidth: sw, f16 } = this.init.layout;
    const { numBuckets } = this.init;
    const n = picked.length;
    const bucketOfRow = new Uint32Array(n);
    const counts = new Uint32Array(numBuckets + 1);
    for (let k = 0; k < n; k++) {
      const [lo, hi] = readTierKey(picked[k].key);
      bucketOfRow[k] = bucketOf(lo, hi, numBuckets);
      counts[bucketOfRow[k] + 1]++;
    }
    for (let b = 0; b < numBuckets; b++) counts[b + 1] += counts[b];
    const ids = new Uint32Array(2 * n);
    const buckets = new Uint32Array(n);
    const weights = f16 ? new Uint16Array(n * dim) : new Float32Array(n * dim);
    const state = new Float32Array(n * sw);
    for (let k = 0; k < n; k++) {
      const o = counts[bucketOfRow[k]]++;
      const [lo, hi] = readTierKey(picked[k].key);
      ids[2 * o] = lo;
      ids[2 * o + 1] = hi;
      buckets[o] = bucketOfRow[k];
      this.rec.load(picked[k].rec);
      weights.set(this.rec.weights, o * dim);
      state.set(this.rec.state, o * sw);
    }
    return { table: this.init.table, rows: n, ids, buckets, weights, state };
  }
}
