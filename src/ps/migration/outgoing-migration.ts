/**
 * The source half of a migration (issue 17), free of transport: a copy-on-write cut of the
 * moving buckets, then tail rounds of what changed since the previous round, the last one behind
 * a push fence. Each round is a sequence of chunks in the checkpoint chunk format (header and
 * payload CRC-32), ready to stream to the target. docs/control-plane.md ("Live resharding")
 * argues why these rounds lose and double nothing.
 *
 * ```ts
 * const m = new OutgoingMigration(node, { id: 'mig-7', buckets, targetAddr, sourceId: 0 });
 * for (const chunk of m.round(false)) send(chunk);   // the copy
 * sendApplied(m.appliedSince()); m.roundAcked();     // then every dedup window
 * for (const chunk of m.round(false)) send(chunk);   // a tail round, unfenced
 * sendApplied(m.appliedSince()); m.roundAcked();     // the windows changed since
 * for (const chunk of m.round(true)) send(chunk);    // the last tail, pushes to `buckets` refused
 * sendApplied(m.appliedSince());
 * ```
 */
import { encodeChunk } from '../../checkpoint/chunk-format';
import { concatTyped } from '../../common/concat-typed';
import { denseBucket } from '../../sharding/dense-bucket';
import type { PsNode } from '../ps-node';
import type { DenseTable } from '../store/dense-table';
import type { SnapshotBatch } from '../store/table-snapshot';
import { idsInMask } from './bucket-set';
import { OutgoingMeta } from './migrated-meta';
import { windowToMigrate } from './migrated-window';

/** What a source migration is: its id, the buckets that move, and where to. */
export interface OutgoingMigrationInit {
  id: string;
  /** bucket → 1 for the moving buckets */
  buckets: Uint8Array;
  targetAddr: string;
  /** The source's PS id, under which its own dedup windows are handed over (migrated-window.ts). */
  sourceId?: number;
}

/** Totals of one round, as the source produced it. */
export interface RoundTotals {
  rows: number;
  tombstones: number;
  chunks: number;
  bytes: number;
}

/** One migration out of this PS. */
export class OutgoingMigration {
  readonly id: string;
  readonly buckets: Uint8Array;
  readonly targetAddr: string;
  readonly sourceId: number | undefined;
  /** Rounds produced so far (0: the copy has not been cut). */
  rounds = 0;
  /** True from the fenced round on. */
  fenced = false;
  private sinceEpoch = 0;
  private sinceStamp = 0;
  private nextStamp = 0;
  private readonly meta: OutgoingMeta;

  constructor(private readonly node: PsNode, init: OutgoingMigrationInit) {
    this.id = init.id;
    this.buckets = init.buckets;
    this.targetAddr = init.targetAddr;
    this.sourceId = init.sourceId;
    this.meta = new OutgoingMeta(init.buckets);
  }

  /**
   * Cuts the next round on the generator's first `next()` (fence and cut in that one synchronous
   * step, so no push to a moving bucket lands between them) and yields its chunks as they are
   * read (copy-on-write keeps them as of the cut); `totals` fills in as
   * it goes. The first round is the whole copy; later ones hold rows stamped since the previous
   * cut and the ids evicted since then (tombstone chunks first: the target deletes, then writes).
   * Each round ends with the admission and eviction metadata changed since the previous one.
   */
  *round(fence: boolean, totals: RoundTotals = { rows: 0, tombstones: 0, chunks: 0, bytes: 0 }): Generator<Buffer> {
    if (fence && !this.fenced) {
      this.node.fenceBuckets(this.buckets, `migration ${this.id} to ${this.targetAddr}`);
      this.fenced = true;
    }
    const { cuts, epoch } = this.node.cutBuckets(this.buckets, this.sinceEpoch);
    this.meta.cut(cuts.map((c) => c.table));
    this.sinceEpoch = epoch;
    this.rounds++;
    try {
      for (const { snap } of cuts) {
        const gone = idsInMask(snap.tombstones, this.buckets);
        if (gone.length > 0) yield this.emit(totals, tombstoneChunk(snap.table, gone, this.buckets.length), 0, gone.length >>> 1);
      }
      for (const { table, snap } of cuts) {
        const layout = { dim: table.dim, stateWidth: table.stateWidth, weightFormat: table.weightFormat };
        // A tail holds a few rows of every slab: one chunk per slab would be one message each.
        let small: SnapshotBatch[] = [];
        let smallRows = 0;
        for (let b = snap.next(); b !== null; b = snap.next()) {
          if (b.rows === 0) continue;
          if (b.rows >= MERGE_BELOW_ROWS) {
            yield this.emit(totals, rowChunk(b, layout), b.rows, 0);
            continue;
          }
          small.push(b);
          smallRows += b.rows;
          if (smallRows >= MERGE_BELOW_ROWS) {
            yield this.emit(totals, rowChunk(mergeBatches(small), layout), smallRows, 0);
            small = [];
            smallRows = 0;
          }
        }
        if (smallRows > 0) yield this.emit(totals, rowChunk(mergeBatches(small), layout), smallRows, 0);
      }
      // Dense tables in moving buckets go whole, behind the fence (their pushes are refused from
      // the cut on, so the copy is their last value here). Counted as one row each.
      if (this.fenced) for (const t of this.node.denseIn(this.buckets)) yield this.emit(totals, denseChunk(t, this.buckets.length), 1, 0);
      // Admission and eviction metadata last, once the target holds the rows (migrated-meta.ts).
      for (const chunk of this.meta.chunks(cuts.map((c) => c.table), this.fenced)) yield this.emit(totals, chunk, 0, 0);
    } finally {
      for (const { table, snap } of cuts) table.endSnapshot(snap);
    }
  }

  /**
   * The dedup identities to send after a round's chunks: the windows changed since those of the
   * last acknowledged round were read (all of them the first time). Taken after the fenced round's cut, they hold every push
   * this PS applied to the moving buckets, so a retry of one that reaches the target is
   * acknowledged there, not applied twice.
   */
  appliedSince(): Buffer {
    this.nextStamp = this.node.dedup.stamp + 1;
    return windowToMigrate(this.node.dedup, this.sourceId, this.sinceStamp);
  }

  /** The target has the round and its identities: the next round's identities start after them. */
  roundAcked(): void {
    this.sinceStamp = this.nextStamp;
  }

  /** Lifts the fence (the migration ended or was rolled back). */
  release(): void {
    this.node.fenceBuckets(null);
    this.fenced = false;
  }

  private emit(totals: RoundTotals, chunk: Buffer, rows: number, tombstones: number): Buffer {
    totals.rows += rows;
    totals.tombstones += tombstones;
    totals.chunks++;
    totals.bytes += chunk.length;
    return chunk;
  }
}

/** Batches smaller than this go out merged, up to about this many rows a chunk. */
const MERGE_BELOW_ROWS = 8192;

/** One batch of the rows of `batches` (of one table), in order; bucketStart/End of a chunk span them all. */
function mergeBatches(batches: SnapshotBatch[]): SnapshotBatch {
  if (batches.length === 1) return batches[0];
  const f16 = batches[0].weights instanceof Uint16Array;
  return {
    table: batches[0].table, rows: batches.reduce((n, b) => n + b.rows, 0),
    ids: concatTyped(batches.map((b) => b.ids), (n) => new Uint32Array(n)),
    buckets: concatTyped(batches.map((b) => b.buckets), (n) => new Uint32Array(n)),
    weights: f16 ? concatTyped(batches.map((b) => b.weights as Uint16Array), (n) => new Uint16Array(n)) : concatTyped(batches.map((b) => b.weights as Float32Array), (n) => new Float32Array(n)),
    state: concatTyped(batches.map((b) => b.state), (n) => new Float32Array(n)),
  };
}

/** The bucket range a chunk's header gives: from the least bucket of its rows to past the greatest. */
function bucketSpan(buckets: Uint32Array): { bucketStart: number; bucketEnd: number } {
  let lo = buckets[0];
  let hi = buckets[0];
  for (const b of buckets) {
    if (b < lo) lo = b;
    if (b > hi) hi = b;
  }
  return { bucketStart: lo, bucketEnd: hi + 1 };
}

function rowChunk(b: SnapshotBatch, layout: { dim: number; stateWidth: number; weightFormat: 'f32' | 'f16' }): Buffer {
  return Buffer.concat(encodeChunk({
    kind: 'rows', weightFormat: layout.weightFormat, table: b.table, dim: layout.dim, stateWidth: layout.stateWidth,
    rows: b.rows, ...bucketSpan(b.buckets),
  }, b.ids, b.weights, b.state));
}

function denseChunk(t: DenseTable, numBuckets: number): Buffer {
  const b = denseBucket(t.name, numBuckets);
  return Buffer.concat(encodeChunk({
    kind: 'dense', weightFormat: 'f32', table: t.name, dim: t.size, stateWidth: t.state.length, rows: 1, bucketStart: b, bucketEnd: b + 1,
  }, new Uint32Array(0), t.values, t.state));
}

function tombstoneChunk(table: string, ids: Uint32Array, numBuckets: number): Buffer {
  return Buffer.concat(encodeChunk({
    kind: 'tombstones', weightFormat: 'f32', table, dim: 0, stateWidth: 0, rows: ids.length >>> 1, bucketStart: 0, bucketEnd: numBuckets,
  }, ids, new Float32Array(0), new Float32Array(0)));
}
