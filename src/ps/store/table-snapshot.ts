/**
 * A snapshot of one embedding table at a cut, read slab by slab while the table keeps changing.
 *
 * The cut is O(slabs): it records how many slots existed and marks every slab "pending". From
 * then on the table calls `guard(r)` before it changes slot `r` (weights, state, id, stamp or
 * liveness); the first change of a pending slab copies that slab (rows and slot metadata) and
 * the snapshot reads the copy instead. `next()` serializes one slab per call, after which the
 * slab is "written" and its copy, if any, is freed. So at any moment the extra memory is only
 * the slabs changed since the cut and not yet written, never a second table.
 *
 * Slots at or past the cut's slot count hold rows created after the cut and are never read;
 * writing them needs no copy. A slot freed by eviction after the cut is guarded like any other
 * change, so its pre-cut row is still read (the table ends up with the row at the cut).
 */
import { bucketOf } from '../../sharding/buckets';
import type { RowStorage, SlabView, WeightFormat } from './row-storage';
import type { SlotMeta, SlotMetaSlab } from './slot-meta';

const PENDING = 1;
const COPIED = 2;
const WRITTEN = 0;

/** Rows of one slab that were in the table at the cut, sorted by bucket. */
export interface SnapshotBatch {
  table: string;
  rows: number;
  /** `[lo, hi]` per row */
  ids: Uint32Array;
  /** bucket of each row, ascending */
  buckets: Uint32Array;
  /** `rows × dim`: float32, or fp16 bits for `f16` tables (bit-exact either way) */
  weights: Float32Array | Uint16Array;
  /** `rows × stateWidth` float32 optimizer state */
  state: Float32Array;
}

/** A reader of more rows at the cut, read after the slabs (the disk tier's TierCut). */
export interface SnapshotBatchSource {
  /** The next batch; null when done. */
  next(): SnapshotBatch | null;
}

/** What the table hands the snapshot at the cut. */
export interface TableSnapshotInit {
  table: string;
  dim: number;
  stateWidth: number;
  weightFormat: WeightFormat;
  storage: RowStorage;
  meta: SlotMeta;
  /** slots in use at the cut (the table's row count) */
  cutSlots: number;
  /** a slot never to emit (the shared unknown row), or -1 */
  excludeSlot: number;
  /** emit only rows stamped at `>= sinceEpoch` (0: every row, a full snapshot) */
  sinceEpoch: number;
  numBuckets: number;
  /** bucket → 1 when this PS owns it; null: all */
  owned: Uint8Array | null;
  /** ids (lo, hi pairs) evicted since the base (incremental snapshots) */
  tombstones: Uint32Array;
  /** the table's spilled rows at the cut (tier-snapshot.ts), read after the slabs; absent: none */
  tier?: SnapshotBatchSource;
}

/** Copy-on-write reader of one table's rows at a cut. */
export class TableSnapshot {
  readonly table: string;
  readonly tombstones: Uint32Array;
  /** Slabs copied because they changed before being written. */
  copiedSlabs = 0;
  private readonly init: TableSnapshotInit;
  private readonly state: Uint8Array;
  private readonly copies: ({ rows: SlabView; meta: SlotMetaSlab } | undefined)[];
  private readonly shift: number;
  private nextSlab = 0;
  private live = 0;
  private peak = 0;

  constructor(init: TableSnapshotInit) {
    this.init = init;
    this.table = init.table;
    this.tombstones = init.tombstones;
    this.shift = Math.log2(init.storage.slabRows);
    const slabs = Math.ceil(init.cutSlots / init.storage.slabRows);
    this.state = new Uint8Array(slabs).fill(PENDING);
    this.copies = new Array(slabs);
  }

  /** True once every slab has been returned by `next` (spilled rows may follow). */
  get done(): boolean {
    return this.nextSlab >= this.state.length;
  }

  /** Most slab copies held at once. */
  get peakCopies(): number {
    return this.peak;
  }

  /** Call before changing slot `r`: copies its slab if the snapshot has not read it yet. */
  guard(r: number): void {
    if (r >= this.init.cutSlots) return;
    const s = r >>> this.shift;
    if (this.state[s] !== PENDING) return;
    this.copies[s] = { rows: this.init.storage.copySlab(s), meta: this.init.meta.copySlab(s) };
    this.state[s] = COPIED;
    this.copiedSlabs++;
    if (++this.live > this.peak) this.peak = this.live;
  }

  /** `guard` for the slots `rows[0..n)` (slots < 0 are skipped). */
  guardRows(rows: Int32Array, n: number): void {
    const cut = this.init.cutSlots;
    const state = this.state;
    const shift = this.shift;
    for (let k = 0; k < n; k++) {
      const r = rows[k];
      if (r >= 0 && r < cut && state[r >>> shift] === PENDING) this.guard(r);
    }
  }

  /**
   * The next slab's rows at the cut, or null when done. Frees that slab's copy. After the slabs,
   * batches of the rows that were spilled to the disk tier at the cut.
   */
  next(): SnapshotBatch | null {
    if (this.done) return this.init.tier?.next() ?? null;
    const s = this.nextSlab++;
    const copy = this.copies[s];
    const rows = copy?.rows ?? this.init.storage.slabView(s);
    const meta = copy?.meta ?? this.init.meta.slab(s);
    const batch = this.serialize(s, rows, meta);
    if (copy) {
      this.copies[s] = undefined;
      this.live--;
    }
    this.state[s] = WRITTEN;
    return batch;
  }

  /** Selects the slab's rows at the cut, sorts them by bucket (counting sort) and gathers them. */
  private serialize(s: number, rows: SlabView, meta: SlotMetaSlab): SnapshotBatch {
    const { slabRows } = this.init.storage;
    const { dim, stateWidth: sw, numBuckets, owned, sinceEpoch, excludeSlot } = this.init;
    const base = s * slabRows;
    const end = Math.min(slabRows, this.init.cutSlots - base);
    // An incremental cut (a migration's tail) usually keeps few rows of a slab: count the stamped
    // slots first and size the arrays by that, not by the slab (a tail over 5M rows allocated
    // and zeroed 40 MB it mostly did not use).
    const stamps = meta.stamps;
    let stamped = 0;
    for (let i = 0; i < end; i++) if (stamps[i] >= sinceEpoch) stamped++;
    const pick = new Int32Array(stamped);
    const pickBucket = new Uint32Array(stamped);
    const counts = new Uint32Array(stamped === 0 ? 0 : numBuckets + 1);
    let n = 0;
    for (let i = 0; i < end && n < stamped; i++) {
      if (stamps[i] < sinceEpoch || base + i === excludeSlot) continue;
      if (meta.live && meta.live[i] === 0) continue;
      const b = bucketOf(meta.ids[2 * i], meta.ids[2 * i + 1], numBuckets);
      if (owned && owned[b] === 0) continue;
      pick[n] = i;
      pickBucket[n++] = b;
      counts[b + 1]++;
    }
    for (let b = 0; b < numBuckets && n > 0; b++) counts[b + 1] += counts[b];
    const ids = new Uint32Array(2 * n);
    const buckets = new Uint32Array(n);
    const weights = rows.weights instanceof Uint16Array ? new Uint16Array(n * dim) : new Float32Array(n * dim);
    const state = new Float32Array(n * sw);
    const { weights: W, wStride, state: S, sOff, sStride } = rows;
    for (let k = 0; k < n; k++) {
      const i = pick[k];
      const b = pickBucket[k];
      const o = counts[b]++;
      ids[2 * o] = meta.ids[2 * i];
      ids[2 * o + 1] = meta.ids[2 * i + 1];
      buckets[o] = b;
      const w = i * wStride;
      for (let j = 0; j < dim; j++) weights[o * dim + j] = W[w + j];
      const st = sOff + i * sStride;
      for (let j = 0; j < sw; j++) state[o * sw + j] = S[st + j];
    }
    return { table: this.table, rows: n, ids, buckets, weights, state };
  }
}
