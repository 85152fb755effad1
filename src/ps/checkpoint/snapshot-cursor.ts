/**
 * A PS-wide snapshot at one cut: every embedding table's rows (copy-on-write, table-snapshot.ts),
 * the tombstones of an incremental, and a copy of every dense table. Transport- and disk-free;
 * the PS process's writer (snapshot-writer.ts) drains it into chunk files.
 */
import type { DenseTable } from '../store/dense-table';
import type { EmbeddingTable } from '../store/embedding-table';
import type { TableSnapshot, SnapshotBatch } from '../store/table-snapshot';
import type { TableSpec } from '../store/table-spec';

export type { SnapshotBatch } from '../store/table-snapshot';

/** What to snapshot. */
export interface SnapshotOptions {
  /** checkpoint id, e.g. `ckpt-000003-20240101T000000Z` */
  id: string;
  kind: 'full' | 'incremental';
  /** incremental only: the checkpoint whose cut this one builds on */
  baseId?: string;
}

/** A dense table's weights and optimizer state at the cut (copies). */
export interface DenseSnapshot {
  table: string;
  values: Float32Array;
  state: Float32Array;
}

/** Layout facts of an embedding table a reader needs beside its rows. */
export interface EmbeddingLayout {
  table: string;
  dim: number;
  stateWidth: number;
  weightFormat: 'f32' | 'f16';
  /** rows resident or spilled now (about the cut's count; used to size files) */
  rows: number;
}

/** Facts of the cut. */
export interface SnapshotCut extends SnapshotOptions {
  numBuckets: number;
  shardMapVersion: number;
  /** embedding rows resident at the cut, over all tables (rows of other PS's buckets included) */
  cutRows: number;
  /** how long taking the cut took, µs */
  cutMicros: number;
  /** normalised specs of every table in the snapshot */
  tables: TableSpec[];
}

/**
 * Yields the rows at the cut while the tables keep serving.
 *
 * ```ts
 * const cur = node.beginSnapshot({ id: 'ckpt-000001-…', kind: 'full' });
 * for (let b = cur.next(); b; b = cur.next()) write(b);   // await between batches is fine
 * cur.close();
 * ```
 */
export class SnapshotCursor {
  private index = 0;
  private closed = false;

  constructor(
    readonly cut: SnapshotCut,
    private readonly snaps: { table: EmbeddingTable; snap: TableSnapshot }[],
    readonly dense: DenseSnapshot[],
    private readonly onClose: () => void,
  ) {}

  /** Row layout of every embedding table in the snapshot. */
  layouts(): EmbeddingLayout[] {
    return this.snaps.map(({ table: t }) => ({ table: t.name, dim: t.dim, stateWidth: t.stateWidth, weightFormat: t.weightFormat, rows: t.size + t.spilledRows }));
  }

  /** Ids (lo, hi pairs) evicted from `table` since the base (empty for full snapshots). */
  tombstones(table: string): Uint32Array {
    return this.snaps.find((s) => s.table.name === table)?.snap.tombstones ?? new Uint32Array(0);
  }

  /** The next slab's rows (of some table) at the cut, or null when every table is done. */
  next(): SnapshotBatch | null {
    while (this.index < this.snaps.length) {
      const b = this.snaps[this.index].snap.next();
      if (b) return b;
      this.release(this.snaps[this.index]);
      this.index++;
    }
    this.close();
    return null;
  }

  /** Slab copies made so far, and the most held at once (one table's peak each, summed). */
  copyStats(): { copiedSlabs: number; peakCopies: number } {
    let copiedSlabs = 0;
    let peakCopies = 0;
    for (const { snap } of this.snaps) {
      copiedSlabs += snap.copiedSlabs;
      peakCopies += snap.peakCopies;
    }
    return { copiedSlabs, peakCopies };
  }

  /** Stops copy-on-write on every table (done, failed or abandoned). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.snaps) this.release(s);
    this.onClose();
  }

  private release(s: { table: EmbeddingTable; snap: TableSnapshot }): void {
    s.table.endSnapshot(s.snap);
  }
}

/** Copies a dense table at the cut (dense tables are small next to embeddings). */
export function denseAtCut(t: DenseTable): DenseSnapshot {
  return { table: t.name, values: t.values.slice(), state: t.state.slice() };
}
