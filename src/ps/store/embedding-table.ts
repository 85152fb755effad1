/**
 * A sparse embedding table: u64 id → `dim` weights plus the optimizer's per-row state. Serving
 * (pull, peek, push, admission, eviction, disk tier) is `EmbeddingRows` (embedding-rows.ts); this
 * class adds the checkpoint half: a copy-on-write cut for snapshots, the restore writes, and row
 * dumps. Every slot change of either half goes through `RowSlots` (row-slots.ts), which guards
 * the snapshot being written.
 *
 * ```ts
 * const t = new EmbeddingTable({ name: 'user', dim: 16, optimizer: { kind: 'adagrad', lr: 0.05 } });
 * t.pull(ids, out);                                   // rows created on first touch
 * const snap = t.beginSnapshot({ sinceEpoch: 0, nextEpoch: 2, numBuckets: 4096, owned: null });
 * t.push(ids, grads);                                 // the snapshot still reads the rows at the cut
 * ```
 */
import { ERROR_CODES, TesseraError } from '../../common/errors';
import { bucketOf } from '../../sharding/buckets';
import { checkNumber } from '../optimizers/config-check';
import { EmbeddingRows } from './embedding-rows';
import { checkFinite, checkRegion } from './row-ops';
import { TableSnapshot } from './table-snapshot';
import { TierCut } from './tier-snapshot';

export { DEFAULT_SLAB_ROWS } from './embedding-rows';
export type { EmbeddingTableOptions, TableMemoryCounters } from './embedding-rows';

/** A sparse embedding table with snapshot and restore (the class the PS uses). */
export class EmbeddingTable extends EmbeddingRows {
  /**
   * Calls `fn` for every resident row with its id halves, weights and state. For f32 tables these
   * are views (valid until the row changes); for f16 tables, float32 copies in reused scratch.
   * The table must not be modified during iteration. `from`/`to` limit it to the rows in id-index
   * slots `[from, to)` of `indexCapacity`, so a long walk can be split across event-loop turns
   * (with the table unmodified between them).
   */
  forEachRow(fn: (lo: number, hi: number, weights: Float32Array, state: Float32Array) => void, from = 0, to = this.indexCapacity): void {
    const w = new Float32Array(this.dim);
    const s = new Float32Array(this.stateWidth);
    this.index.forEach((r) => {
      const [lo, hi] = this.meta.idOf(r);
      this.storage.read(r, w, 0, s, 0);
      fn(lo, hi, w, s);
    }, from, to);
  }

  /** Inserts or overwrites row `(lo, hi)` with copies of `weights [dim]` and `state [stateWidth]`. */
  putRow(lo: number, hi: number, weights: Float32Array, state: Float32Array): void {
    checkNumber('lo', lo, { integer: true, min: 0, max: 0xffffffff });
    checkNumber('hi', hi, { integer: true, min: 0, max: 0xffffffff });
    checkRegion(this.name, 'weights', weights, 0, this.dim, true);
    checkRegion(this.name, 'state', state, 0, this.stateWidth, true);
    checkFinite(this.name, 'weights', weights, this.dim, null);
    checkFinite(this.name, 'state', state, this.stateWidth, null);
    const r = this.slotFor(lo, hi);
    this.slots.writeRow(r, weights, 0, state, 0, false);
    if (this.evict) this.evict.unpin(Int32Array.of(r), 1);
    this.tier?.commit();
  }

  /**
   * `putRow` for `n` rows at once, each with zero optimizer state: `ids` (lo, hi pairs) and
   * `weights [n × dim]` as float32 (stored in the table's weight format). A saved model's rows
   * load through here: no allocation per row, one disk-tier commit per call. Rows beyond a row
   * budget evict others as they arrive (to the disk tier with `eviction.spill`).
   */
  putRows(ids: Uint32Array, weights: Float32Array, n: number): void {
    checkNumber('n', n, { integer: true, min: 0, max: ids.length >>> 1 });
    checkRegion(this.name, 'weights', weights, 0, n * this.dim);
    const w = weights.length === n * this.dim ? weights : weights.subarray(0, n * this.dim);
    checkFinite(this.name, 'weights', w, this.dim, ids);
    const state = new Float32Array(this.stateWidth);
    const pinned = new Int32Array(1);
    for (let k = 0; k < n; k++) {
      const r = this.slotFor(ids[2 * k], ids[2 * k + 1]);
      this.slots.writeRow(r, weights, k * this.dim, state, 0, false);
      pinned[0] = r;
      if (this.evict) this.evict.unpin(pinned, 1);
    }
    this.tier?.commit();
  }

  /**
   * Takes a cut of the table (O(slabs), nothing copied yet): the returned snapshot reads every
   * row as it is now, while pulls and pushes go on (table-snapshot.ts). Rows stamped before
   * `sinceEpoch` are left out (incremental; 0 = all). Then the epoch advances to `nextEpoch`, so
   * rows changed from now on carry a stamp the next incremental snapshot will pick. With
   * `expire`, rows past their TTL are evicted first, so a checkpoint holds none (when the hand
   * has passed a row would otherwise decide whether it is saved).
   */
  beginSnapshot(opts: { sinceEpoch: number; nextEpoch: number; numBuckets: number; owned: Uint8Array | null; expire?: boolean }): TableSnapshot {
    if (this.slots.snap) throw new TesseraError(ERROR_CODES.SNAPSHOT_CONFLICT, `table "${this.name}": a snapshot is already being written`);
    if (opts.expire) this.evictExpired();
    const snap = new TableSnapshot({
      table: this.name, dim: this.dim, stateWidth: this.stateWidth, weightFormat: this.weightFormat,
      storage: this.storage, meta: this.meta, cutSlots: this.slots.count, excludeSlot: this.unknownSlot,
      sinceEpoch: opts.sinceEpoch, numBuckets: opts.numBuckets, owned: opts.owned,
      tombstones: opts.sinceEpoch > 0 ? this.tombs.since(opts.sinceEpoch) : new Uint32Array(0),
      tier: this.tier ? this.cutTier(opts) : undefined,
    });
    this.slots.snap = snap;
    this.setEpoch(opts.nextEpoch);
    return snap;
  }

  /** Stops guarding writes for `snap` (written, failed or abandoned). */
  endSnapshot(snap: TableSnapshot): void {
    if (this.slots.snap !== snap) return;
    this.slots.snap = null;
    if (this.tier) this.tier.cut = null;
  }

  /** The disk-tier reader of a cut taken now; rows spilled from now on carry a newer generation. */
  private cutTier(opts: { sinceEpoch: number; numBuckets: number; owned: Uint8Array | null }): TierCut {
    const t = this.tier!;
    t.cut = new TierCut({
      table: this.name, store: t.store, layout: t.layout, cutGen: ++this.tierGen, sinceEpoch: opts.sinceEpoch,
      numBuckets: opts.numBuckets, owned: opts.owned, batchRows: this.storage.slabRows,
    });
    return t.cut;
  }

  /** True while a snapshot of this table is being written. */
  get snapshotting(): boolean {
    return this.slots.snap !== null;
  }

  /** Sets the epoch stamped on changed rows from now on; evictions are logged from the first cut. */
  setEpoch(epoch: number): void {
    this.slots.epoch = epoch;
    this.trackTombstones = true;
  }

  /** Forgets evictions older than `minEpoch` (no incremental base that old is kept). */
  pruneTombstones(minEpoch: number): void {
    this.tombs.prune(minEpoch);
  }

  /**
   * Removes every row whose bucket has `buckets[b] === 1` (null: every row), before a restore
   * loads them. When that is every resident row, slots are reset for reuse; otherwise the rows
   * leave the index and, without eviction's free list, their slots stay allocated.
   * @returns rows removed
   */
  clearBuckets(buckets: Uint8Array | null, numBuckets: number): number {
    this.refuseWhileSnapshotting('clear');
    const inSet = (r: number): boolean => {
      if (!buckets) return true;
      const [lo, hi] = this.meta.idOf(r);
      return buckets[bucketOf(lo, hi, numBuckets)] === 1;
    };
    const spilled = this.tier?.clear(buckets ? (lo, hi) => buckets[bucketOf(lo, hi, numBuckets)] === 1 : null) ?? 0;
    this.tier?.commit();
    let keep = 0;
    this.index.forEach((r) => { if (!inSet(r)) keep++; });
    const removed = this.size - keep + spilled;
    if (keep === 0) {
      this.index.clear();
      this.slots.reset(this.unknownSlot >= 0 ? this.unknownSlot + 1 : 0);
      this.tombs.clear();
      return removed;
    }
    // sweep counts a slot looked at again after a removal as a visit, so one pass of `capacity`
    // visits misses the last slots when it removes anything: pass again until nothing is removed
    // (issue 17: a migration's source kept rows of buckets it had handed over).
    do {
      this.index.sweep(0, this.index.capacity, Infinity, (r) => {
        if (!inSet(r)) return false;
        this.slots.free(r);
        return true;
      });
    } while (this.index.lastRemoved > 0);
    return removed;
  }

  /**
   * One slice of removing the rows whose bucket has `buckets[b] === 1`: looks at row slots
   * `[from, from + count)` (the first slice also drops spilled rows of those buckets). Unlike
   * `clearBuckets` it leaves the table serving between slices: row slots never move (index
   * slots do, on growth and deletion), so the slices together see every row, provided no row of
   * those buckets is created meanwhile (the PS owns them no longer). Freed slots are guarded for a
   * snapshot being written. Returns the slot to go on from (`done` once past the last) and the
   * rows removed.
   */
  clearBucketsSlice(buckets: Uint8Array, numBuckets: number, from: number, count: number): { next: number; done: boolean; removed: number } {
    let removed = 0;
    if (from === 0 && this.tier) {
      removed += this.tier.clear((lo, hi) => buckets[bucketOf(lo, hi, numBuckets)] === 1);
      this.tier.commit();
    }
    const end = Math.min(this.slots.count, from + count);
    for (let r = from; r < end; r++) {
      if (r === this.unknownSlot) continue;
      const [lo, hi] = this.meta.idOf(r);
      if (buckets[bucketOf(lo, hi, numBuckets)] !== 1 || this.index.find(lo, hi) !== r) continue;
      this.index.remove(lo, hi);
      this.slots.free(r);
      removed++;
    }
    return { next: end, done: end >= this.slots.count, removed };
  }

  /**
   * Inserts or overwrites rows `[from, to)` of a checkpoint chunk bit-exactly: `ids` (lo, hi
   * pairs), `weights` in the stored format (float32, or fp16 bits for `f16` tables) and `state`.
   * `keep(k)` may skip rows (a bucket this PS does not own).
   */
  loadRows(ids: Uint32Array, weights: Float32Array | Uint16Array, state: Float32Array, from: number, to: number, keep?: (k: number) => boolean): number {
    this.refuseWhileSnapshotting('load');
    const { dim, stateWidth: sw } = this;
    let loaded = 0;
    for (let k = from; k < to; k++) {
      if (keep && !keep(k)) continue;
      const lo = ids[2 * k];
      const hi = ids[2 * k + 1];
      const r = this.slotFor(lo, hi);
      this.slots.writeRow(r, weights, k * dim, state, k * sw, true);
      if (this.evict) this.evict.unpin(Int32Array.of(r), 1);
      loaded++;
    }
    this.tier?.commit();
    return loaded;
  }

  /**
   * Reads the rows among ids `[0, n)` (lo, hi pairs), resident or spilled to the disk tier (read
   * there without loading them), as float32 weights and state, compacted: row j of the output is
   * `outIds[2j, 2j+2)`. Ids with no row (never created, or dropped by eviction) are skipped.
   * Replication's read of changed rows at a cut.
   * @returns the rows written
   */
  readRows(ids: Uint32Array, n: number, outIds: Uint32Array, outWeights: Float32Array, outState: Float32Array): number {
    const { dim, stateWidth: sw, tier } = this;
    let j = 0;
    for (let k = 0; k < n; k++) {
      const lo = ids[2 * k];
      const hi = ids[2 * k + 1];
      const r = this.index.find(lo, hi);
      if (r >= 0) this.storage.read(r, outWeights, j * dim, outState, j * sw);
      else if (!tier?.read(lo, hi, outWeights, j * dim, outState, j * sw)) continue;
      outIds[2 * j] = lo;
      outIds[2 * j + 1] = hi;
      j++;
    }
    return j;
  }

  /**
   * The ids (lo, hi pairs) of up to `limit` rows on the disk tier after id `after` in the tier's
   * key order (null: from the first), the last id looked at, and whether that was the end. A
   * replication full copy walks the tier with it, a slice per batch. No tier: none, done.
   */
  spilledIds(after: readonly [number, number] | null, limit: number): { ids: Uint32Array; n: number; last: [number, number] | null; done: boolean } {
    const ids = new Uint32Array(2 * limit);
    let n = 0;
    if (!this.tier) return { ids, n, last: null, done: true };
    const s = this.tier.scan(after, limit, (lo, hi) => {
      ids[2 * n] = lo;
      ids[2 * n + 1] = hi;
      n++;
    });
    return { ids, n, ...s };
  }

  /**
   * Tells `fn` each id whose row leaves the disk tier from now on (reloaded into RAM, overwritten
   * or deleted); null stops it. One watcher at a time (replication's log).
   */
  watchSpilled(fn: ((lo: number, hi: number) => void) | null): void {
    if (this.tier) this.tier.onLeave = fn;
  }

  /**
   * Copies up to `limit` rows of `from`'s disk tier after id `after` (key order; null: from the
   * first) whose id `keep` accepts into this table: onto this table's tier as they are, record
   * to record, without loading them into RAM (stamped with this table's epoch, so the next
   * incremental checkpoint saves them); into RAM only when this table has no tier or holds the
   * id resident. A promoted replica's spilled rows (issue 17). `from` must have this table's
   * dim, optimizer state and weight format.
   */
  copySpilledFrom(from: EmbeddingTable, after: readonly [number, number] | null, limit: number, keep: (lo: number, hi: number) => boolean): { copied: number; last: [number, number] | null; done: boolean } {
    const src = from.tier;
    if (!src) return { copied: 0, last: null, done: true };
    const a = src.layout;
    if (a.dim !== this.dim || a.stateWidth !== this.stateWidth || a.f16 !== (this.weightFormat === 'f16')) {
      throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `table "${this.name}": cannot take the spilled rows of table "${from.name}" (another dim, optimizer or weight format)`);
    }
    let copied = 0;
    const s = src.scan(after, limit, (lo, hi, rec) => {
      if (!keep(lo, hi)) return;
      copied++;
      if (this.tier && this.index.find(lo, hi) < 0) {
        this.tier.adopt(lo, hi, rec, this.slots.epoch, this.tierGen);
        return;
      }
      const r = this.slotFor(lo, hi);
      this.slots.writeRow(r, rec.weights, 0, rec.state, 0, true);
      if (this.evict) this.evict.unpin(Int32Array.of(r), 1);
    });
    this.tier?.commit();
    return { copied, ...s };
  }

  /** Removes the ids (lo, hi pairs) that are resident (tombstones of a checkpoint chain). */
  deleteIds(ids: Uint32Array, keep?: (k: number) => boolean): number {
    this.refuseWhileSnapshotting('delete');
    let removed = 0;
    for (let k = 0; k < ids.length >>> 1; k++) {
      if (keep && !keep(k)) continue;
      const r = this.index.remove(ids[2 * k], ids[2 * k + 1]);
      if (r < 0) {
        if (this.tier?.discard(ids[2 * k], ids[2 * k + 1])) removed++;
        continue;
      }
      this.slots.free(r);
      removed++;
    }
    this.tier?.commit();
    return removed;
  }

  /** The eviction clock now (row-eviction.ts: pushes, or seconds); 0 without eviction. */
  evictionClock(): number {
    return this.evict?.clock() ?? 0;
  }

  /** The newest step the eviction clock counted per worker (row-eviction.ts); empty without eviction. */
  evictionSteps(): Map<bigint, number> {
    return this.evict?.stepsCounted() ?? new Map();
  }

  /**
   * One slice of the eviction metadata a migration carries: of the rows in row slots
   * `[from, from + count)` whose bucket has `buckets[b] === 1` and that were last touched at or
   * after tick `since` (null: every row), the ids and, per row, `[tick, uses]`. Null without
   * eviction. Slices read the table as it is then; between them it may change.
   */
  evictionMetaSlice(buckets: Uint8Array, since: number | null, from: number, count: number): { ids: Uint32Array; words: Uint32Array; next: number; done: boolean } | null {
    const evict = this.evict;
    if (!evict) return null;
    const clock = evict.clock();
    const end = Math.min(this.slots.count, from + count);
    const ids: number[] = [];
    const words: number[] = [];
    for (let r = from; r < end; r++) {
      if (r === this.unknownSlot || !this.meta.isLive(r)) continue;
      const tick = evict.tickOf(r);
      if (since !== null && ((tick - since) >>> 0) > ((clock - since) >>> 0)) continue;
      const [lo, hi] = this.meta.idOf(r);
      if (buckets[bucketOf(lo, hi, buckets.length)] !== 1) continue;
      ids.push(lo, hi);
      words.push(tick, evict.usesOf(r));
    }
    return { ids: Uint32Array.from(ids), words: Uint32Array.from(words), next: end, done: end >= this.slots.count };
  }

  /**
   * `[tick, uses]` per id of `ids[0..2n)` (lo, hi pairs); an id not resident (spilled, or no row)
   * reads `[clock now, 0]`: a spilled row keeps no metadata, and comes back touched now. Null
   * without eviction.
   */
  evictionMetaOf(ids: Uint32Array, n: number): Uint32Array | null {
    const evict = this.evict;
    if (!evict) return null;
    const words = new Uint32Array(2 * n);
    const clock = evict.clock();
    for (let k = 0; k < n; k++) {
      const r = this.index.find(ids[2 * k], ids[2 * k + 1]);
      if (r < 0) {
        words[2 * k] = clock;
        continue;
      }
      words[2 * k] = evict.tickOf(r);
      words[2 * k + 1] = evict.usesOf(r);
    }
    return words;
  }

  /**
   * Sets the eviction metadata of the resident rows among `ids` (lo, hi pairs): per row `[tick,
   * uses]` of `words`, `tick + shift` being the tick in this PS's clock; `keep(k)` may skip rows.
   * Rows not resident are skipped. Returns the rows set (0 without eviction).
   */
  loadEvictionMeta(ids: Uint32Array, words: Uint32Array, shift: number, keep?: (k: number) => boolean): number {
    const evict = this.evict;
    if (!evict) return 0;
    let set = 0;
    for (let k = 0; k < ids.length >>> 1; k++) {
      if (keep && !keep(k)) continue;
      const r = this.index.find(ids[2 * k], ids[2 * k + 1]);
      if (r < 0) continue;
      evict.setMeta(r, words[2 * k] + shift, words[2 * k + 1]);
      set++;
    }
    return set;
  }

  /** Moves the last-touch ticks of the rows in `buckets` (bucket → 1) by `delta`; returns how many. */
  shiftEvictionTicks(buckets: Uint8Array, delta: number): number {
    const evict = this.evict;
    if (!evict || delta === 0) return 0;
    let shifted = 0;
    for (let r = 0; r < this.slots.count; r++) {
      if (r === this.unknownSlot || !this.meta.isLive(r)) continue;
      const [lo, hi] = this.meta.idOf(r);
      if (buckets[bucketOf(lo, hi, buckets.length)] !== 1) continue;
      evict.shiftTick(r, delta);
      shifted++;
    }
    return shifted;
  }

  /**
   * The admission sketch's counters of the ids in `buckets` (bucket → 1; its length the bucket
   * count) that differ from `sent`, as `[cell, count]` pairs, bringing `sent` up to date
   * (count-min-sketch.ts); `sent` null: every counter of those ids, and a copy to go on from is
   * made. Null without admission.
   */
  admissionCells(buckets: Uint8Array, sent: Uint8Array | null): { cells: Uint32Array; sent: Uint8Array } | null {
    if (!this.admit) return null;
    const sketch = this.admit.counters;
    const base = sent ?? sketch.copyCounters();
    return { cells: sketch.changedCells(sketch.regionsOf(buckets, true), sent), sent: base };
  }

  /**
   * Takes another PS's sketch counters (`[cell, count]` pairs, `admissionCells`) for the ids of
   * `buckets` (bucket → 1), which this PS takes over: their counters are set, counters shared
   * with other buckets' ids raised to the maximum. Returns the pairs taken (0 without admission).
   */
  mergeAdmissionCells(cells: Uint32Array, buckets: Uint8Array): number {
    if (!this.admit) return 0;
    const sketch = this.admit.counters;
    return sketch.setCells(cells, sketch.regionsOf(buckets, false));
  }

  private refuseWhileSnapshotting(what: string): void {
    if (this.slots.snap) throw new TesseraError(ERROR_CODES.SNAPSHOT_CONFLICT, `table "${this.name}": cannot ${what} rows while a snapshot is being written`);
  }

  /** Slot of `(lo, hi)`, inserting it (under the row budget) without initialising it. */
  private slotFor(lo: number, hi: number): number {
    const r = this.index.find(lo, hi);
    if (r >= 0) return r;
    this.tier?.discard(lo, hi); // the row is about to be written whole: a spilled copy would be stale
    if (this.evict?.bounded && this.size + 1 > this.evict.maxRows) this.evict.makeRoom(this.size + 1 - this.evict.maxRows);
    return this.insert(lo, hi, false);
  }
}
