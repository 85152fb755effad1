/**
 * The row slots of one embedding table and every write to them. A slot is a row's weights and
 * optimizer state (`RowStorage`), its id, change stamp and liveness (`SlotMeta`) and, with
 * eviction, its use counter (`RowEviction`).
 *
 * While a snapshot is being written, every change to a slot that existed at the cut must let
 * the snapshot copy the slot's slab first (table-snapshot.ts). That guard lives only here: a
 * slot changes only through `claim` (it takes a new id), `writeRow`/`applyRows` (its row is
 * overwritten or updated) or `release`/`free` (it loses its row), and each guards first. The
 * table decides which ids get which slots; this class keeps the slots consistent.
 *
 * ```ts
 * const r = slots.next();                  // a free slot, else a fresh one
 * index.findOrInsert(lo, hi, r);
 * slots.claim(r, lo, hi, true);            // the new row, from the initializer
 * slots.applyRows(opt, uniq, u, grads);    // a push's summed gradients, stamped
 * ```
 */
import type { Optimizer } from '../optimizers/optimizer';
import type { InitializerConfig } from './initializers';
import type { RowEviction } from './row-eviction';
import type { RowStorage } from './row-storage';
import type { SlotMeta } from './slot-meta';
import type { TableSnapshot } from './table-snapshot';

/** What the slots are filled and stamped with. */
export interface RowSlotsInit {
  storage: RowStorage;
  meta: SlotMeta;
  /** eviction bookkeeping (its free list is where `next` takes freed slots from); null without eviction */
  evict: RowEviction | null;
  initializer: InitializerConfig;
  seed: number;
  opt: Optimizer;
}

/** The slots of one table, with the snapshot's copy-on-write guard on every write. */
export class RowSlots {
  readonly storage: RowStorage;
  readonly meta: SlotMeta;
  /** Snapshot epoch stamped on rows as they change (see EmbeddingTable.beginSnapshot). */
  epoch = 1;
  /** Slots handed out so far; the next fresh slot. */
  count = 0;
  /** The snapshot being written, which must see every change before it happens. */
  snap: TableSnapshot | null = null;
  private readonly evict: RowEviction | null;
  /** Slots `claimUninitialised` claimed since the last `initClaimed`, and their ids. */
  private claimedRows = new Int32Array(256);
  private claimedIds = new Uint32Array(512);
  private claimed = 0;

  constructor(private readonly init: RowSlotsInit) {
    this.storage = init.storage;
    this.meta = init.meta;
    this.evict = init.evict;
  }

  /** The slot a new row would take: the head of eviction's free list, else the next fresh slot. */
  next(): number {
    return this.evict ? this.evict.nextSlot(this.count) : this.count;
  }

  /**
   * The one claim: slot `r` (what `next` returned) now holds the new id `(lo, hi)`, stamped with
   * the current epoch and, when `init`, filled from the initializer with the optimizer's initial
   * state (otherwise the caller writes it next). A freed slot may still hold a row the snapshot
   * has to write, so it is guarded first.
   */
  claim(r: number, lo: number, hi: number, init: boolean): void {
    if (r === this.count) this.count++;
    else this.evict!.claim(r);
    this.guard(r);
    this.storage.ensure(r);
    this.meta.ensure(r);
    this.meta.assign(r, lo, hi, this.epoch);
    this.evict?.ensure(r);
    if (init) this.storage.initRow(r, lo, hi, this.init.initializer, this.init.seed, this.init.opt);
  }

  /**
   * `claim` whose initial row is written later, by `initClaimed`, together with every other slot
   * claimed so since (one pass, native where it applies). The caller must call `initClaimed`
   * before the event loop turns or any row is read (the slot was guarded here already).
   */
  claimUninitialised(r: number, lo: number, hi: number): void {
    this.claim(r, lo, hi, false);
    const k = this.claimed++;
    if (k === this.claimedRows.length) {
      this.claimedRows = growCopy(this.claimedRows, new Int32Array(2 * k));
      this.claimedIds = growCopy(this.claimedIds, new Uint32Array(4 * k));
    }
    this.claimedRows[k] = r;
    this.claimedIds[2 * k] = lo;
    this.claimedIds[2 * k + 1] = hi;
  }

  /** Writes the initial row (initializer and optimizer state) of every slot `claimUninitialised` claimed. */
  initClaimed(): void {
    const k = this.claimed;
    if (k === 0) return;
    this.claimed = 0;
    const { storage, claimedRows: rows, claimedIds: ids } = this;
    const { initializer, seed, opt } = this.init;
    if (storage.initRows(rows, ids, k, initializer, seed, opt)) return;
    for (let i = 0; i < k; i++) storage.initRow(rows[i], ids[2 * i], ids[2 * i + 1], initializer, seed, opt);
  }

  /**
   * The one write of a whole row: overwrites slot `r` with `w[wOff..]` and `s[sOff..]` (float32
   * weights; when `stored`, weights in the stored format, fp16 bits for f16 tables) and stamps it
   * with `stamp` (default: the current epoch; a row back from the disk tier keeps its own).
   */
  writeRow(r: number, w: Float32Array | Uint16Array, wOff: number, s: Float32Array, sOff: number, stored: boolean, stamp = this.epoch): void {
    this.guard(r);
    if (stored) this.storage.writeStored(r, w, wOff, s, sOff);
    else this.storage.write(r, w as Float32Array, wOff, s, sOff);
    this.meta.setStamp(r, stamp);
  }

  /**
   * Applies gradient row `k` of `g` to slot `rows[k]` for k < `u` (a push), and stamps them; all
   * or nothing: returns -1, or the first k whose update would be non-finite, and then no slot
   * changed (RowStorage.applyRows).
   */
  applyRows(opt: Optimizer, rows: Int32Array, u: number, g: Float32Array): number {
    if (this.snap) this.snap.guardRows(rows, u);
    const refused = this.storage.applyRows(opt, rows, u, g);
    if (refused < 0) this.meta.stampRows(rows, u, this.epoch);
    return refused;
  }

  /**
   * `applyRows` for a push another PS already applied (a buddy's replica): no undo copy (after
   * a refusal the rows before it stay updated, and the replica is discarded) and no stamps (a
   * replica is never snapshotted, and its rows' versions are never read).
   */
  replayRows(opt: Optimizer, rows: Int32Array, u: number, g: Float32Array): number {
    if (this.snap) this.snap.guardRows(rows, u);
    return this.storage.applyRows(opt, rows, u, g, false);
  }

  /** Eviction chose slot `r` (and puts it on its free list itself): the slot holds no row now. */
  release(r: number): void {
    this.guard(r);
    this.meta.free(r);
  }

  /** Slot `r`'s row was removed (a restore clears or deletes it): free the slot for reuse. */
  free(r: number): void {
    this.guard(r);
    this.meta.free(r);
    this.evict?.free(r);
  }

  /** Forgets every slot but the first `keep` (a table emptied before a restore). */
  reset(keep: number): void {
    this.count = keep;
    this.meta.clearLive();
    this.evict?.reset();
  }

  private guard(r: number): void {
    if (this.snap) this.snap.guard(r);
  }
}

/** `to` with `from` copied into its start. */
function growCopy<T extends Int32Array | Uint32Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
