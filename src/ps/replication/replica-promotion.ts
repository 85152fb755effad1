/**
 * Writing a replica's rows into the live table when a buddy is promoted (issue 17), in time
 * slices: the buddy keeps serving its own buckets and renewing its etcd lease while a replica of
 * tens of millions of rows is installed. A promotion written in one synchronous step took about
 * 1 s per 100k rows here, far past a lease TTL at that size (ADR 0044).
 *
 * Two passes, each cut into slices of at most `sliceMs` (8 ms) of work with a turn of the event
 * loop between them (`setImmediate`: pending I/O — pulls, pushes, keepalives — and timers run
 * first):
 * 1. collect the replica's rows of the promoted buckets, id-index slot range by range, into flat
 *    arrays (the replica must not change meanwhile: ReplicaStore refuses its batches);
 * 2. write them into the live table in a scrambled order (applied-pushes.ts `scrambledOrder`:
 *    rows in one index's hash order pile into one probe run of another).
 * Swapping the replica's structures in whole is not possible: the live table holds the buddy's
 * own rows too. Rows are read as float32 (an f16 replica gives exact widened copies) and
 * `putRow` stores them in the live table's format, the same spec's, so f16 rows come back
 * unchanged. Then the replica's rows on its disk tier go onto the live table's tier record by
 * record (`promoteSpilled`), never through RAM: a replica larger than RAM stays so once live.
 *
 * ```ts
 * const slicer = new LoopSlicer();
 * const rows = await promoteRows(replicaTable, liveTable, bucketMask, slicer);
 * ```
 */
import { ERROR_CODES, TesseraError } from '../../common/errors';
import { bucketOf } from '../../sharding/buckets';
import type { EmbeddingTable } from '../store/embedding-table';
import { scrambledOrder } from './applied-pushes';

/** Work per slice before the event loop gets a turn, ms: a pull queued behind it waits this long at most. */
export const PROMOTE_SLICE_MS = 8;

/** Index slots collected, or rows written, between two looks at the clock. */
const STEP = 1024;

/** Gives the event loop a turn between slices of a long synchronous job. */
export class LoopSlicer {
  /** Turns given so far. */
  yields = 0;
  private start = performance.now();

  /**
   * @param sliceMs work per slice, ms
   * @param turn how the loop gets its turn (default: a `setImmediate`, after pending I/O and timers)
   */
  constructor(private readonly sliceMs = PROMOTE_SLICE_MS, private readonly turn: () => Promise<void> = () => new Promise((r) => setImmediate(r))) {}

  /** Whether the current slice has used its time (cheap: one clock read). */
  due(): boolean {
    return performance.now() - this.start >= this.sliceMs;
  }

  /** Gives the loop its turn and starts a new slice. */
  async pause(): Promise<void> {
    await this.turn();
    this.yields++;
    this.start = performance.now();
  }
}

/**
 * Writes `replica`'s rows of `buckets` (bucket → 1) into `live`, slice by slice; returns the
 * count. `replica` must not change until it resolves.
 * @throws TesseraError SNAPSHOT_CONFLICT if `replica` changed between slices anyway
 */
export async function promoteRows(replica: EmbeddingTable, live: EmbeddingTable, buckets: Uint8Array, slicer: LoopSlicer): Promise<number> {
  const { dim, stateWidth: sw } = replica;
  const cap = replica.indexCapacity;
  const most = replica.size;
  const ids = new Uint32Array(2 * most);
  const w = new Float32Array(dim * most);
  const s = new Float32Array(sw * most);
  let n = 0;
  const collect = (lo: number, hi: number, rw: Float32Array, rs: Float32Array): void => {
    if (buckets[bucketOf(lo, hi, buckets.length)] !== 1) return;
    ids[2 * n] = lo;
    ids[2 * n + 1] = hi;
    for (let j = 0; j < dim; j++) w[n * dim + j] = rw[j];
    for (let j = 0; j < sw; j++) s[n * sw + j] = rs[j];
    n++;
  };
  for (let from = 0; from < cap; from += STEP) {
    if (replica.indexCapacity !== cap || replica.size !== most) {
      throw new TesseraError(ERROR_CODES.SNAPSHOT_CONFLICT, `replica table "${replica.name}" changed while it was being promoted; promote again`);
    }
    replica.forEachRow(collect, from, Math.min(cap, from + STEP));
    if (slicer.due()) await slicer.pause();
  }
  const at = scrambledOrder(n);
  for (let i = 0; i < n; i++) {
    const k = at(i);
    live.putRow(ids[2 * k], ids[2 * k + 1], w.subarray(k * dim, (k + 1) * dim), s.subarray(k * sw, (k + 1) * sw));
    if ((i & (STEP - 1)) === STEP - 1 && slicer.due()) await slicer.pause();
  }
  return n;
}

/**
 * Copies `replica`'s rows on its disk tier of `buckets` (bucket → 1) onto `live`'s tier, slice by
 * slice, without loading them (`EmbeddingTable.copySpilledFrom`); returns the count. `replica`
 * must not change until it resolves.
 */
export async function promoteSpilled(replica: EmbeddingTable, live: EmbeddingTable, buckets: Uint8Array, slicer: LoopSlicer): Promise<number> {
  const keep = (lo: number, hi: number): boolean => buckets[bucketOf(lo, hi, buckets.length)] === 1;
  let after: [number, number] | null = null;
  let n = 0;
  for (;;) {
    const s = live.copySpilledFrom(replica, after, STEP, keep);
    n += s.copied;
    if (s.done) return n;
    after = s.last;
    if (slicer.due()) await slicer.pause();
  }
}
