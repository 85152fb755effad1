/**
 * Per-slot metadata that checkpoints need, in slab-sized arrays beside the row slabs:
 * - the id held by each slot (the reverse of the id index), so a snapshot can walk slabs in
 *   order and name every row without reading the index, which keeps changing after the cut; the
 *   index of f16 tables keeps only a 32-bit hash per id and confirms its matches here (`holds`);
 * - a change stamp (the table's snapshot epoch when the row was last created or written), so an
 *   incremental snapshot picks exactly the rows changed since its base;
 * - with eviction only, a live byte (free slots exist only when rows can be evicted);
 * - a version: the count of pushes applied to the row since its slot took it (it wraps at 2^32),
 *   so a pull can say which version it read and a later push how many updates landed on the row
 *   in between (push staleness). Versions are not checkpointed: a row created, restored or
 *   reloaded from the disk tier starts at 0.
 *
 * 16 bytes per slot (17 with eviction). A snapshot copies a slab's ids, stamps and liveness
 * together with its rows (copy-on-write), so what it reads is the metadata as it was at the cut;
 * versions are live only.
 */
import type { RowIds } from './tagged-id-index';

/** Metadata bytes per row slot: u64 id + u32 stamp + u32 version (the live byte of eviction tables is extra). */
export const SLOT_META_BYTES_PER_ROW = 16;

/** One slab's metadata arrays (live or a copy). */
export interface SlotMetaSlab {
  /** `[lo, hi]` per slot */
  readonly ids: Uint32Array;
  readonly stamps: Uint32Array;
  /** 1 when the slot holds a row; null when every slot below the row count does */
  readonly live: Uint8Array | null;
}

/** Ids, change stamps, versions and (with eviction) liveness of every row slot. */
export class SlotMeta implements RowIds {
  private readonly ids: Uint32Array[] = [];
  private readonly stamps: Uint32Array[] = [];
  private readonly versions: Uint32Array[] = [];
  private readonly live: Uint8Array[] = [];
  private readonly shift: number;
  private readonly mask: number;

  constructor(readonly slabRows: number, readonly tracksLive: boolean) {
    this.shift = Math.log2(slabRows);
    this.mask = slabRows - 1;
  }

  /** Bytes of every metadata slab allocated (ids, stamps, versions and, with eviction, liveness). */
  bytes(): number {
    return this.stamps.length * this.slabRows * (SLOT_META_BYTES_PER_ROW + (this.tracksLive ? 1 : 0));
  }

  /** Makes slot `r` addressable. */
  ensure(r: number): void {
    while (r >>> this.shift >= this.stamps.length) {
      this.ids.push(new Uint32Array(2 * this.slabRows));
      this.stamps.push(new Uint32Array(this.slabRows));
      this.versions.push(new Uint32Array(this.slabRows));
      if (this.tracksLive) this.live.push(new Uint8Array(this.slabRows));
    }
  }

  /** Slot `r` now holds id `(lo, hi)`, written at `epoch`, at version 0. */
  assign(r: number, lo: number, hi: number, epoch: number): void {
    const s = r >>> this.shift;
    const i = r & this.mask;
    this.ids[s][2 * i] = lo;
    this.ids[s][2 * i + 1] = hi;
    this.stamps[s][i] = epoch;
    this.versions[s][i] = 0;
    if (this.tracksLive) this.live[s][i] = 1;
  }

  /**
   * Marks the slots `rows[0..n)` updated by one push at `epoch`: stamped, and their versions
   * advanced by one (slots < 0 are skipped; `rows` holds each slot once).
   */
  stampRows(rows: Int32Array, n: number, epoch: number): void {
    const { stamps, versions, shift, mask } = this;
    for (let k = 0; k < n; k++) {
      const r = rows[k];
      if (r < 0) continue;
      const s = r >>> shift;
      const i = r & mask;
      stamps[s][i] = epoch;
      versions[s][i]++; // wraps at 2^32 (a Uint32Array)
    }
  }

  /** Writes the version of slot `rows[k]` to `out[k]` for k < n (0 for slots < 0: no row). */
  versionsOf(rows: Int32Array, n: number, out: Uint32Array): void {
    const { versions, shift, mask } = this;
    for (let k = 0; k < n; k++) {
      const r = rows[k];
      out[k] = r < 0 ? 0 : versions[r >>> shift][r & mask];
    }
  }

  /** Sets slot `r`'s change stamp (a row reloaded from the disk tier keeps the stamp it had). */
  setStamp(r: number, stamp: number): void {
    this.stamps[r >>> this.shift][r & this.mask] = stamp;
  }

  /** The change stamp of slot `r`. */
  stampOf(r: number): number {
    return this.stamps[r >>> this.shift][r & this.mask];
  }

  /** Slot `r` no longer holds a row. */
  free(r: number): void {
    if (this.tracksLive) this.live[r >>> this.shift][r & this.mask] = 0;
  }

  /** True when slot `r` holds a row (tables without eviction: every slot handed out does). */
  isLive(r: number): boolean {
    return !this.tracksLive || this.live[r >>> this.shift][r & this.mask] === 1;
  }

  /** True when slot `r` holds id `(lo, hi)` (the id index confirms its tag matches here). */
  holds(r: number, lo: number, hi: number): boolean {
    const a = this.ids[r >>> this.shift];
    const i = 2 * (r & this.mask);
    return a[i] === lo && a[i + 1] === hi;
  }

  /** Id halves of slot `r`. */
  idOf(r: number): [number, number] {
    const a = this.ids[r >>> this.shift];
    const i = r & this.mask;
    return [a[2 * i], a[2 * i + 1]];
  }

  /** Marks every slot free (the table was cleared). */
  clearLive(): void {
    for (const l of this.live) l.fill(0);
  }

  /** The live arrays of slab `s` (not a copy). */
  slab(s: number): SlotMetaSlab {
    return { ids: this.ids[s], stamps: this.stamps[s], live: this.tracksLive ? this.live[s] : null };
  }

  /** A copy of slab `s`'s arrays. */
  copySlab(s: number): SlotMetaSlab {
    return { ids: this.ids[s].slice(), stamps: this.stamps[s].slice(), live: this.tracksLive ? this.live[s].slice() : null };
  }
}
