/**
 * The serving half of a sparse embedding table (u64 id → `dim` weights plus the optimizer's
 * per-row state): construction, pull, peek and push with admission, eviction and the disk tier.
 * `EmbeddingTable` (embedding-table.ts) adds the checkpoint half: snapshots, restore and row
 * dumps. The split is by concern only; code outside src/ps/store uses `EmbeddingTable`.
 *
 * Layout. An `IdIndex` maps ids to row slots; a `RowStorage` (f32 or f16 weights, see
 * row-storage.ts) holds the slots in slabs of `slabRows` rows, so growth never copies row data and
 * a slot never moves while its row lives. No JS object, BigInt or Map entry exists per row. This
 * class decides which id has which slot; `RowSlots` (row-slots.ts) makes every change to a slot,
 * with the snapshot's copy-on-write guard.
 *
 * Memory options (table-options.ts):
 * - admission: a missing id gets a row only once a count-min sketch has seen it `minCount` times;
 *   before that it reads zeros or the shared unknown row, and its gradients are dropped (zeros) or
 *   go to the unknown row (unknown);
 * - eviction: TTL by pushes or seconds, and an LFU row budget (row-eviction.ts); freed slots are
 *   reused, so the slabs never outgrow the budget. With `eviction.spill`, budget victims go to the
 *   disk tier (tier-rows.ts) and a pull or push of a spilled id loads it back within the call.
 *
 * Without either option, requests take the original single-pass path (`resolvePlain`).
 */
import { idAt, IdArray } from '../../wire/key-block';
import { ERROR_CODES, TesseraError } from '../../common/errors';
import { createOptimizer } from '../optimizers/registry';
import type { FilledOptimizerConfig, Optimizer, OptimizerConfig } from '../optimizers/optimizer';
import { badConfig, checkNumber } from '../optimizers/config-check';
import { F16RowSlabs } from './f16-row-slabs';
import { F32RowSlabs } from './f32-row-slabs';
import { GradSum } from './grad-sum';
import { IdIndex } from './id-index';
import type { IdIndexBase } from './id-index-base';
import { DEFAULT_INITIALIZER, InitializerConfig, initRow, validateInitializer } from './initializers';
import type { RowStorage, WeightFormat } from './row-storage';
import { EVICTION_META_BYTES_PER_ROW, EvictionCounts, PushStep, RowEviction } from './row-eviction';
import { checkFinite, checkIds, checkRegion, growInt32, nonFiniteUpdate } from './row-ops';
import { AdmissionCounts, RowAdmission } from './row-admission';
import { RowSlots } from './row-slots';
import { SlotMeta, SLOT_META_BYTES_PER_ROW } from './slot-meta';
import { indexSlotBytesFor, rowBudgetFor } from './table-budget';
import { TaggedIdIndex } from './tagged-id-index';
import type { TableTier } from './row-tier';
import { TierCounters, TierRows } from './tier-rows';
import { TombstoneLog } from './tombstone-log';
import { AdmissionConfig, checkWeightFormat, EvictionConfig, validateAdmission, validateEviction } from './table-options';
import { checkDim, checkSeed, checkTableName } from './table-spec';

/** A missing slot whose id `lookup` found on the disk tier (before it is loaded back). */
const ON_DISK = -2;

/** Default rows per slab: 2^16 rows, 8 MiB per slab for dim 16 with Adagrad. */
export const DEFAULT_SLAB_ROWS = 1 << 16;

const SLAB_ROWS_BOUNDS = { integer: true, min: 1, max: 1 << 24 };
const CAPACITY_BOUNDS = { integer: true, min: 0, max: 1 << 29 };
/** Id halves the shared unknown row is initialised as (it is never in the index). */
const UNKNOWN_ID = 0xffffffff;

/** Construction options; see `EmbeddingTableSpec` for the meaning of the shared fields. */
export interface EmbeddingTableOptions {
  name: string;
  dim: number;
  optimizer: OptimizerConfig;
  initializer?: InitializerConfig;
  seed?: number;
  /** rows to hold before the first index rehash (default 0) */
  initialCapacity?: number;
  /** rows per slab, a power of two in [1, 2^24] (default 2^16) */
  slabRows?: number;
  /** weight storage (default f32; optimizer state is always f32) */
  weightFormat?: WeightFormat;
  admission?: AdmissionConfig;
  eviction?: EvictionConfig;
  /** monotonic milliseconds, for `eviction.ttlSeconds` (default performance.now) */
  now?: () => number;
  /**
   * this table's store in the PS's disk tier; required by `eviction.spill` (row-tier.ts). A
   * function is called only once every other option is valid, so a refused table never opens it.
   */
  tier?: TableTier | (() => TableTier);
}

/** Admission and eviction counters of one table. */
export interface TableMemoryCounters extends AdmissionCounts {
  evicted: EvictionCounts;
  /** disk-tier counters; null without `eviction.spill` */
  tier: TierCounters | null;
}

/**
 * Sparse table with lazily created rows (use it as `EmbeddingTable`).
 *
 * ```ts
 * const t = new EmbeddingTable({ name: 'user', dim: 16, optimizer: { kind: 'adagrad', lr: 0.05 } });
 * const ids = idsFrom([7n, 42n, 7n]);
 * const out = new Float32Array(3 * 16);
 * t.pull(ids, out);            // creates rows 7 and 42 from the initializer
 * t.push(ids, grads);          // grads [3 × 16]; the two rows for id 7 are summed first
 * ```
 */
export class EmbeddingRows {
  readonly name: string;
  readonly dim: number;
  /** Optimizer config with defaults filled in. */
  readonly optimizerConfig: Readonly<FilledOptimizerConfig>;
  readonly initializer: InitializerConfig;
  readonly seed: number;
  /** Floats of optimizer state per row. */
  readonly stateWidth: number;
  readonly weightFormat: WeightFormat;
  readonly admission: Readonly<Required<AdmissionConfig>> | null;
  readonly eviction: Readonly<EvictionConfig> | null;
  readonly counters: TableMemoryCounters = { admitted: 0, rejected: 0, droppedGradients: 0, evicted: { ttl: 0, budget: 0 }, tier: null };
  private readonly opt: Optimizer;
  /** `IdIndex` for f32 tables; for f16 tables (a memory option), the leaner `TaggedIdIndex`. */
  protected readonly index: IdIndexBase;
  /** Row slots: storage, slot metadata, epoch and the snapshot guard (row-slots.ts). */
  protected readonly slots: RowSlots;
  protected readonly storage: RowStorage;
  /** Slot → id, change stamp and liveness (checkpoints, slot-meta.ts). */
  protected readonly meta: SlotMeta;
  protected readonly admit: RowAdmission | null;
  protected readonly evict: RowEviction | null;
  /** Slot of the shared unknown row, or -1 (unadmitted ids then read zeros). */
  protected readonly unknownSlot: number;
  private readonly grad: GradSum;
  /** Evicted ids since the oldest possible incremental base; only after the first snapshot. */
  protected readonly tombs = new TombstoneLog();
  protected trackTombstones = false;
  /** Spilled rows (with `eviction.spill`), and the snapshot generation their records carry. */
  protected readonly tier: TierRows | null;
  protected tierGen = 0;
  /** Told each id eviction drops (TTL, or a budget victim without a disk tier): replication's tombstones. */
  onDropped: ((lo: number, hi: number) => void) | null = null;
  private rowScratch: Int32Array = new Int32Array(0);
  /** A fresh slot for a new id, initialised after the batch (`initClaimed`); bound once for `findOrInsertAll`. */
  private readonly createRow = (lo: number, hi: number): number => {
    const r = this.slots.next();
    this.slots.claimUninitialised(r, lo, hi);
    return r;
  };

  /** Validates `opts` (errors name the key) and creates an empty table. */
  constructor(opts: EmbeddingTableOptions) {
    this.name = checkTableName(opts.name);
    this.dim = checkDim(opts.dim);
    this.opt = createOptimizer(opts.optimizer);
    this.optimizerConfig = this.opt.config;
    this.initializer = validateInitializer(opts.initializer ?? DEFAULT_INITIALIZER);
    this.seed = checkSeed(opts.seed);
    const slabRows = checkNumber('slabRows', opts.slabRows, SLAB_ROWS_BOUNDS, DEFAULT_SLAB_ROWS);
    if ((slabRows & (slabRows - 1)) !== 0) badConfig('slabRows', 'must be a power of two', slabRows);
    const expected = checkNumber('initialCapacity', opts.initialCapacity, CAPACITY_BOUNDS, 0);
    this.weightFormat = checkWeightFormat(opts.weightFormat);
    this.admission = opts.admission === undefined ? null : validateAdmission(opts.admission);
    this.eviction = opts.eviction === undefined ? null : validateEviction(opts.eviction);
    this.stateWidth = this.opt.stateWidth(this.dim);
    this.storage = this.weightFormat === 'f16'
      ? new F16RowSlabs(this.dim, this.stateWidth, slabRows)
      : new F32RowSlabs(this.dim, this.stateWidth, slabRows);
    this.meta = new SlotMeta(slabRows, this.eviction !== null);
    this.grad = new GradSum(this.dim);
    if (this.eviction?.spill && !opts.tier) badConfig('eviction.spill', 'needs a disk tier: start the PS with --tier-dir (TESSERA_TIER_DIR)', true);
    this.admit = this.admission ? new RowAdmission(this.admission, this.counters) : null;
    const unknown = this.admission?.unadmitted === 'unknown';
    this.evict = this.eviction
      ? new RowEviction(this.eviction, rowBudgetFor(this.eviction, {
        rowBytes: this.storage.rowBytes, indexSlotBytes: indexSlotBytesFor(this.weightFormat),
        metaBytes: EVICTION_META_BYTES_PER_ROW + SLOT_META_BYTES_PER_ROW + 1, slabRows,
        fixedBytes: this.admit?.bytes() ?? 0, extraSlots: unknown ? 1 : 0,
      }), slabRows,
        opts.now ?? (() => performance.now()), (r, cause) => this.onEvicted(r, cause))
      : null;
    // Never more slots than the row budget holds: the budget counts the index at that size.
    const capacity = Math.min(expected, this.evict?.maxRows ?? Infinity);
    this.index = this.weightFormat === 'f16' ? new TaggedIdIndex(capacity, this.meta) : new IdIndex(capacity);
    this.slots = new RowSlots({
      storage: this.storage, meta: this.meta, evict: this.evict, initializer: this.initializer, seed: this.seed, opt: this.opt,
    });
    const tier = this.eviction?.spill ? opts.tier : undefined;
    this.tier = tier ? new TierRows(typeof tier === 'function' ? tier() : tier, this.slots) : null;
    // The shared unknown row: a slot outside the index, never evicted.
    this.unknownSlot = unknown ? this.claimNew(UNKNOWN_ID, UNKNOWN_ID) : -1;
    if (unknown) this.evict?.reserve(this.unknownSlot);
  }

  /** Rows spilled to the disk tier (0 without `eviction.spill`). */
  get spilledRows(): number {
    return this.tier?.counters.rows ?? 0;
  }

  /** Rows resident (ids in the index; the shared unknown row is not counted). */
  get size(): number {
    return this.index.size;
  }

  /** Slots in the id index (grows at load 0.8: ×2 below 2^20 slots, ×1.25 above). */
  get indexCapacity(): number {
    return this.index.capacity;
  }

  /** Resident-row budget on this PS (Infinity without one). */
  get maxRows(): number {
    return this.evict?.maxRows ?? Infinity;
  }

  /** Bytes of one row slot in the slabs (weights + optimizer state). */
  get rowBytes(): number {
    return this.storage.rowBytes;
  }

  /** Bytes used by the id index, the row slabs, eviction metadata and the admission sketch. */
  memoryBytes(): number {
    return this.index.bytes() + this.storage.bytes() + this.meta.bytes() + this.tombs.bytes()
      + (this.evict?.bytes() ?? 0) + (this.admit?.bytes() ?? 0);
  }

  /** Admission and eviction counters (a copy). */
  memoryCounters(): TableMemoryCounters {
    const c = this.counters;
    const t = this.tier?.counters;
    const tier = t ? { ...t, reload: { counts: [...t.reload.counts], sum: t.reload.sum } } : null;
    return { ...c, evicted: { ...(this.evict?.evicted ?? c.evicted) }, tier };
  }

  /** True when row `(lo, hi)` is resident. */
  has(lo: number, hi: number): boolean {
    return this.index.find(lo, hi) >= 0;
  }

  /**
   * Gathers the rows of `ids` into `out[outOff .. outOff + n*dim)`, creating missing rows from the
   * initializer (and the optimizer's initial state). Duplicate ids are gathered twice. With
   * admission, an id not yet admitted reads zeros or the unknown row and gets no row. With
   * `versions` ([n]), each row's version (pushes applied to it, slot-meta.ts) is written there
   * too (0 for an id without a row).
   */
  pull(ids: IdArray, out: Float32Array, outOff = 0, versions?: Uint32Array): void {
    const n = checkIds(this.name, ids);
    checkRegion(this.name, 'out', out, outOff, n * this.dim);
    let rows = this.rowScratch;
    if (!this.pullFound(ids, n, out, outOff)) {
      rows = this.resolve(ids, n, false);
      this.gatherOrZero(rows, n, out, outOff);
    }
    if (versions) this.meta.versionsOf(rows, n, versions);
  }

  /**
   * A pull of a table without admission or eviction, in one native pass (IdIndex.findAllGathered):
   * true when every id had a row, so `rowScratch` holds them and `out` has them; false when the
   * pass does not apply or an id was absent (none in a steady state), and the caller resolves and
   * gathers the batch as usual.
   */
  private pullFound(ids: IdArray, n: number, out: Float32Array, outOff: number): boolean {
    const { index, storage } = this;
    if (this.admit || this.evict || !(index instanceof IdIndex) || !(storage instanceof F32RowSlabs)) return false;
    if (this.rowScratch.length < n) this.rowScratch = growInt32(n);
    return index.findAllGathered(ids, n, this.rowScratch, storage.layout, out, outOff) === 0;
  }

  /**
   * Like `pull`, but a missing row is not inserted (evaluation and serving must not grow the
   * table), nothing is counted or touched, and it reads what a pull would: the initializer's row,
   * or, for an id admission has not admitted yet, zeros or the unknown row. `versions` as in
   * `pull` (0 for an id without a resident row).
   */
  peek(ids: IdArray, out: Float32Array, outOff = 0, versions?: Uint32Array): void {
    const n = checkIds(this.name, ids);
    checkRegion(this.name, 'out', out, outOff, n * this.dim);
    if (this.rowScratch.length < n) this.rowScratch = growInt32(n);
    const rows = this.rowScratch;
    this.index.findAll(ids, n, rows);
    if (versions) this.meta.versionsOf(rows, n, versions);
    this.storage.gather(rows, n, out, outOff);
    const { dim } = this;
    for (let i = 0; i < n; i++) {
      if (rows[i] >= 0) continue;
      const lo = ids[2 * i];
      const hi = ids[2 * i + 1];
      if (this.tier?.peek(lo, hi, out, outOff + i * dim)) continue;
      this.readAbsent(lo, hi, out, outOff + i * dim);
    }
  }

  /**
   * The serving read: like `peek` (an id the table does not hold is not inserted and reads what a
   * pull would create), except that a row spilled to the disk tier is loaded back into RAM, so
   * the rows being read stay resident and budget eviction sends the coldest ones to disk. Without
   * a disk tier it is `peek`.
   * @throws TesseraError TOO_LARGE when `ids` alone exceed the table's row budget
   */
  lookup(ids: IdArray, out: Float32Array, outOff = 0): void {
    const { tier, evict } = this;
    if (!tier || !evict) {
      this.peek(ids, out, outOff);
      return;
    }
    const n = checkIds(this.name, ids);
    checkRegion(this.name, 'out', out, outOff, n * this.dim);
    this.checkFitsBudget(n);
    if (this.rowScratch.length < n) this.rowScratch = growInt32(n);
    const rows = this.rowScratch;
    evict.begin();
    const missing = this.index.findAll(ids, n, rows);
    for (let i = 0; i < n; i++) if (rows[i] >= 0) evict.touch(rows[i]);
    if (missing > 0) this.reloadSpilled(ids, n, rows);
    evict.unpin(rows, n);
    tier.commit();
    this.storage.gather(rows, n, out, outOff);
    for (let i = 0; i < n; i++) if (rows[i] < 0) this.readAbsent(ids[2 * i], ids[2 * i + 1], out, outOff + i * this.dim);
  }

  /** Loads the spilled rows among the missing slots (< 0) of `rows` back into pinned slots. */
  private reloadSpilled(ids: IdArray, n: number, rows: Int32Array): void {
    const tier = this.tier!;
    const evict = this.evict!;
    let onDisk = 0;
    for (let i = 0; i < n; i++) {
      if (rows[i] < 0 && tier.has(ids[2 * i], ids[2 * i + 1])) {
        rows[i] = ON_DISK;
        onDisk++;
      }
    }
    if (onDisk === 0) return;
    if (this.size + onDisk > evict.maxRows) evict.makeRoom(this.size + onDisk - evict.maxRows);
    for (let i = 0; i < n; i++) {
      if (rows[i] !== ON_DISK) continue;
      const lo = ids[2 * i];
      const hi = ids[2 * i + 1];
      const r = this.index.find(lo, hi); // a repeated id, loaded earlier in this call
      if (r >= 0) rows[i] = r;
      else if (tier.take(lo, hi)) tier.restore(rows[i] = this.insert(lo, hi, false));
      else rows[i] = -1;
    }
  }

  /** Writes what an id the table does not hold reads: the initializer's row, or the unadmitted default. */
  private readAbsent(lo: number, hi: number, out: Float32Array, off: number): void {
    if (this.admit && !this.admit.seenEnough(lo, hi)) this.readDefault(out, off);
    else initRow(this.initializer, this.seed, lo, hi, out, off, this.dim);
  }

  /** @throws TesseraError TOO_LARGE when one request's `n` ids exceed the resident-row budget */
  private checkFitsBudget(n: number): void {
    if (this.evict && n > this.evict.maxRows) {
      throw new TesseraError(ERROR_CODES.TOO_LARGE, `table "${this.name}": ids: ${n} ids exceed the table's row budget of ${this.evict.maxRows} on this PS`);
    }
  }

  /**
   * Applies gradients `grads [n × dim]` for `ids`. Input is validated completely first (id pairs,
   * `grads.length === n*dim`, every value finite), so a rejected push leaves the table unchanged.
   * Gradients of duplicate ids are summed (float32, in input order), then the optimizer runs once
   * per distinct row, in first-occurrence order. Missing rows are created from the initializer
   * first (a row evicted between pull and push), unless admission has not admitted the id.
   * An update that would leave any weight or optimizer state non-finite (finite gradients can
   * overflow: 3e38 with SGD, 1e20 three times with FTRL) is refused whole, after the optimizer's
   * `clip_norm` if it has one: TESSERA_ERR_NON_FINITE naming the table and the id, and no row
   * changes (rows the push created from the initializer stay, as after a pull). With `versions`
   * ([n]), the version each id's row had just before this push updated it is written there (the
   * pull's version plus the updates that landed in between; 0 for an id without a row). `step`
   * (the push's step tag) makes the eviction clock count each step once (row-eviction.ts).
   * @returns the number of distinct rows updated
   */
  push(ids: IdArray, grads: Float32Array, versions?: Uint32Array, step?: PushStep): number {
    const n = checkIds(this.name, ids);
    checkRegion(this.name, 'grads', grads, 0, n * this.dim, true);
    checkFinite(this.name, 'grads', grads, this.dim, ids);
    return this.update(ids, n, grads, versions, true, (row) => nonFiniteUpdate(this.name, row), step);
  }

  /**
   * Applies a push that another PS already applied, as `push` did there: a buddy's replica of
   * that PS (issue 17), bit for bit. What only a served table needs is left out: the scan of
   * the gradients (the primary's push checked them), the undo copy (a refusal, which only a
   * replica that diverged can meet, throws with the rows before it updated, and the replica is
   * then discarded and copied again whole), and the change stamps and row versions (a replica
   * is never snapshotted and a promotion copies weights and state only).
   * @returns the number of distinct rows updated
   */
  replay(ids: IdArray, grads: Float32Array): number {
    const n = checkIds(this.name, ids);
    checkRegion(this.name, 'grads', grads, 0, n * this.dim, true);
    return this.update(ids, n, grads, undefined, false, (row) => new TesseraError(ERROR_CODES.NON_FINITE,
      `table "${this.name}": replaying the primary's push would make ${row} non-finite: this replica no longer matches its primary, which copies it again whole`));
  }

  /** The update of `push` and `replay` (`served`: all or nothing, stamped); `refusal` names a non-finite result. */
  private update(ids: IdArray, n: number, grads: Float32Array, versions: Uint32Array | undefined, served: boolean, refusal: (row: string) => TesseraError, step?: PushStep): number {
    const rows = this.resolve(ids, n, true, step);
    if (versions) this.meta.versionsOf(rows, n, versions);
    const u = this.grad.sum(rows, n, grads);
    const { opt, grad } = this;
    const refused = served ? this.slots.applyRows(opt, grad.uniq, u, grad.gsum) : this.slots.replayRows(opt, grad.uniq, u, grad.gsum);
    if (refused >= 0) throw refusal(`id ${idAt(ids, rows.indexOf(grad.uniq[refused]))}`);
    this.evict?.afterPush(n, step);
    return u;
  }

  /** Evicts every row past its TTL now (pushes also sweep a little each); returns the count. */
  evictExpired(): number {
    return this.evict?.evictExpired() ?? 0;
  }

  /**
   * Eviction chose slot `r`: keep its row for a pending snapshot; spill a budget victim to the
   * disk tier (the row still exists, so no tombstone), or log the dropped id for incrementals;
   * remove the id from the index.
   */
  private onEvicted(r: number, cause: 'ttl' | 'budget'): void {
    const [lo, hi] = this.meta.idOf(r);
    this.index.remove(lo, hi);
    if (this.tier && cause === 'budget') this.tier.spill(r, lo, hi, this.tierGen);
    else {
      if (this.trackTombstones) this.tombs.add(lo, hi, this.slots.epoch);
      this.onDropped?.(lo, hi);
    }
    this.slots.release(r);
  }

  /** Row slots of `ids` into the shared scratch, creating (or admitting) missing rows. */
  private resolve(ids: IdArray, n: number, isPush: boolean, step?: PushStep): Int32Array {
    if (this.rowScratch.length < n) this.rowScratch = growInt32(n);
    if (!this.admit && !this.evict) return this.resolvePlain(ids, n);
    return this.resolveManaged(ids, n, isPush, step);
  }

  /** Find-or-insert of every id, the new rows initialised together: the path of tables without admission or eviction. */
  private resolvePlain(ids: IdArray, n: number): Int32Array {
    try {
      this.index.findOrInsertAll(ids, n, this.rowScratch, this.createRow);
    } finally {
      this.slots.initClaimed();
    }
    return this.rowScratch;
  }

  /**
   * Three passes: find and pin the rows present; make room under the budget (pinned rows are
   * never chosen); then admit and create the missing ones. Unpins before returning. Slot -1 means
   * "not admitted, read zeros and drop the gradient".
   */
  private resolveManaged(ids: IdArray, n: number, isPush: boolean, step?: PushStep): Int32Array {
    const { index, evict } = this;
    const rows = this.rowScratch;
    this.checkFitsBudget(n);
    evict?.begin(step);
    let missing = index.findAll(ids, n, rows);
    if (evict) {
      // A row past its TTL reads as evicted even before the hand reaches it (row-eviction.ts).
      for (let i = 0; i < n; i++) if (rows[i] >= 0 && evict.expireOnAccess(rows[i])) { rows[i] = -1; missing++; }
      for (let i = 0; i < n; i++) if (rows[i] >= 0) evict.touch(rows[i]);
    }
    if (evict?.bounded && missing > 0 && this.size + missing > evict.maxRows) {
      evict.makeRoom(this.size + missing - evict.maxRows);
    }
    if (missing > 0) this.createMissing(ids, n, rows, isPush);
    evict?.unpin(rows, n);
    // One write transaction for the call's spills and reloads. If it fails (disk full) they stay
    // staged and readable, so no row is lost, and the request fails before a push applies anything.
    this.tier?.commit();
    return rows;
  }

  /** Fills the slots < 0 of `rows`: an admitted id gets a (new or just created) row. */
  private createMissing(ids: IdArray, n: number, rows: Int32Array, isPush: boolean): void {
    const { admit } = this;
    for (let i = 0; i < n; i++) {
      if (rows[i] >= 0) continue;
      const lo = ids[2 * i];
      const hi = ids[2 * i + 1];
      if (this.tier && this.index.find(lo, hi) < 0 && this.tier.take(lo, hi)) {
        rows[i] = this.insert(lo, hi, false); // back as it left (it was admitted once), pinned
        this.tier.restore(rows[i]);
        continue;
      }
      if (admit && this.index.find(lo, hi) < 0 && !admit.admit(lo, hi, isPush)) {
        rows[i] = this.unknownSlot;
        continue;
      }
      rows[i] = this.insert(lo, hi, true);
    }
  }

  /** Row of `(lo, hi)`, inserting a new one (in a freed slot when there is one), pinned. */
  protected insert(lo: number, hi: number, init: boolean): number {
    const next = this.slots.next();
    const r = this.index.findOrInsert(lo, hi, next);
    if (r !== next) return r;
    this.slots.claim(r, lo, hi, init);
    this.evict?.created(r);
    return r;
  }

  /** A new slot holding the initial row of `(lo, hi)`, not yet in the index. */
  private claimNew(lo: number, hi: number): number {
    const r = this.slots.next();
    this.slots.claim(r, lo, hi, true);
    return r;
  }

  /** Gathers `rows`, writing the unadmitted default (zeros) for slots < 0. */
  private gatherOrZero(rows: Int32Array, n: number, out: Float32Array, outOff: number): void {
    this.storage.gather(rows, n, out, outOff);
    if (!this.admit) return;
    const dim = this.dim;
    for (let i = 0; i < n; i++) if (rows[i] < 0) out.fill(0, outOff + i * dim, outOff + (i + 1) * dim);
  }

  /** Writes what an unadmitted id reads: the unknown row, or zeros. */
  private readDefault(out: Float32Array, off: number): void {
    if (this.unknownSlot < 0) {
      out.fill(0, off, off + this.dim);
      return;
    }
    const one = Int32Array.of(this.unknownSlot);
    this.storage.gather(one, 1, out, off);
  }
}
