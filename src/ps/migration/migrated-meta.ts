/**
 * Admission and eviction metadata that moves with migrated buckets (issue 17), both halves, free
 * of transport. Without it a moved row came up on the target as if just created (touched now,
 * used once) and an id not yet admitted counted again from zero, so a job with admission or
 * eviction trained differently once a bucket moved.
 *
 * - **Eviction metadata** (`meta` chunks): per row its last-touch tick and use count. Ticks count
 *   each PS's own clock (pushes to the table there, or seconds since the table was made there),
 *   so the source sends its ticks with its clock, and the target writes them shifted into its own
 *   clock by the difference of the two clocks at the migration's first `meta` chunk of the table.
 *   Each round sends the rows touched since the previous round's cut (the copy: all). The rows
 *   not touched again keep aging on the source's clock until the fence, which the target does not
 *   see, so the fenced round ends with a `meta` chunk of the source's clock then, and the newest
 *   step it counted per worker: the target shifts every staged row of the table by how far the
 *   two clocks drifted apart meanwhile, less the steps it counted that the source had not yet.
 *   Until then the target keeps staged rows' ticks half the clock ahead, where its own TTL sweeps
 *   never take them: whether a moving row expires is the source's call until the fence.
 * - **Admission counts** (`sketch` chunks): a count-min sketch cannot list the ids it has seen, so
 *   the counters themselves go: those of the sketch regions that hold the moving buckets' ids
 *   (count-min-sketch.ts), all of them with the copy, then those changed since the previous round.
 *   The target sets the counters of regions that hold only moving buckets' ids, so a moved id's
 *   estimate is the one it had on the source, collisions included; a region shared with other
 *   buckets (a bucket count that is not a power of two, or a small sketch) keeps the maximum of
 *   both, which never undercounts an id of either PS.
 */
import { encodeChunk, Chunk } from '../../checkpoint/chunk-format';
import type { EmbeddingTable } from '../store/embedding-table';

/** `bucketEnd` of the fenced round's last `meta` chunk: the source's clock and steps at the fence. */
const AT_FENCE = 1;
/** Half the range of a tick: a tick this far ahead of the clock is never expired. */
const HALF_CLOCK = 2 ** 31;
/** Row slots read per slice of the metadata scan. */
const SLICE_SLOTS = 65_536;
/** Rows of metadata per `meta` chunk (about, as with row chunks). */
const CHUNK_ROWS = 8192;
/** Sketch counters per `sketch` chunk (8 MiB of pairs: a 4 MiB sketch with every counter set is 4 chunks). */
const SKETCH_CELLS = 1 << 20;

/** The source's side: what it sent of each table so far. */
export class OutgoingMeta {
  /** Eviction clock at the previous round's cut, by table: rows touched from then on go next. */
  private readonly since = new Map<string, number>();
  /** Eviction clock at this round's cut, by table (`cut`). */
  private readonly atCut = new Map<string, number>();
  /** Sketch counters as last sent, by table. */
  private readonly sent = new Map<string, Uint8Array>();

  /** @param buckets bucket → 1 for the moving buckets */
  constructor(private readonly buckets: Uint8Array) {}

  /**
   * Notes the eviction clocks of `tables` when the round's rows are cut (in the same synchronous
   * step). The round's metadata is read only after its rows were sent, many event-loop turns
   * later: a row created in between is not on the target yet, so that read skips it, and its
   * tick can be older than the clock then (a push came between). The next round sends the rows
   * touched from this cut on, which is every row the next round's rows can bring (issue 17:
   * from the previous read on, such a row came up on the target with the target's tick of its
   * arrival, which the fence then moved half the clock away, so it never expired).
   */
  cut(tables: readonly EmbeddingTable[]): void {
    for (const t of tables) if (t.eviction) this.atCut.set(t.name, t.evictionClock());
  }

  /**
   * The `meta` and `sketch` chunks of one round for `tables` (after the round's rows), and with
   * `fenced` the empty `meta` chunk that tells the target the source's clock at the fence.
   */
  *chunks(tables: readonly EmbeddingTable[], fenced: boolean): Generator<Buffer> {
    for (const t of tables) {
      if (t.eviction) yield* this.evictionChunks(t, fenced);
      const a = t.admissionCells(this.buckets, this.sent.get(t.name) ?? null);
      if (a) yield* sketchChunks(t.name, a.cells);
      if (a) this.sent.set(t.name, a.sent);
    }
  }

  private *evictionChunks(t: EmbeddingTable, fenced: boolean): Generator<Buffer> {
    const since = this.since.get(t.name) ?? null;
    const clock = t.evictionClock();
    this.since.set(t.name, this.atCut.get(t.name) ?? clock);
    let ids: Uint32Array[] = [];
    let words: Uint32Array[] = [];
    let rows = 0;
    for (let from = 0, done = false; !done;) {
      const s = t.evictionMetaSlice(this.buckets, since, from, SLICE_SLOTS)!;
      ({ next: from, done } = s);
      if (s.ids.length === 0) continue;
      ids.push(s.ids);
      words.push(s.words);
      rows += s.ids.length >>> 1;
      if (rows < CHUNK_ROWS && !done) continue;
      yield metaChunk(t.name, clock, join(ids), join(words));
      ids = [];
      words = [];
      rows = 0;
    }
    if (rows > 0) yield metaChunk(t.name, clock, join(ids), join(words));
    if (fenced) yield fenceChunk(t.name, t.evictionClock(), t.evictionSteps());
  }
}

/** The target's side of one migration: the shift from the source's clock to this PS's, by table. */
export class IncomingMeta {
  private readonly shifts = new Map<string, number>();

  /**
   * Applies a `meta` or `sketch` chunk to `table`; `keep(k)` says whether row k is in a staged
   * bucket, `staged` (bucket → 1) is every staged bucket not owned here. Returns the rows changed.
   */
  apply(table: EmbeddingTable, c: Chunk, keep: (k: number) => boolean, staged: Uint8Array): number {
    if (c.header.kind === 'sketch') return table.mergeAdmissionCells(c.ids, staged);
    const sourceClock = c.header.stateWidth;
    const shift = (table.evictionClock() - sourceClock) | 0;
    const was = this.shifts.get(table.name);
    if (c.header.rows === 0 || c.header.bucketEnd === AT_FENCE) {
      // The source's clock at the fence: move every staged row by the drift since the first
      // chunk, less the steps this PS counted that the source had not yet (a step's part here
      // landed before the fence's read, its part there was refused): those are one step in both.
      const atFence = (shift - stepsAhead(table.evictionSteps(), c)) | 0;
      this.shifts.set(table.name, atFence);
      return was === undefined ? 0 : table.shiftEvictionTicks(staged, (atFence - was) | 0);
    }
    // Until the fence, staged rows' ticks lie half the clock ahead (row-eviction.ts: never
    // expired): this PS's own TTL sweeps must not evict a row only the source decides about.
    const first = (shift + HALF_CLOCK) | 0;
    if (was === undefined) this.shifts.set(table.name, first);
    return table.loadEvictionMeta(c.ids, metaWords(c), was ?? first, keep);
  }
}

/**
 * The fenced round's last `meta` chunk: the source's clock then, and per worker the newest step
 * it counted (client id as the row's id, `[step, 0]` as its words).
 */
function fenceChunk(table: string, clock: number, steps: ReadonlyMap<bigint, number>): Buffer {
  const ids = new Uint32Array(2 * steps.size);
  const words = new Uint32Array(2 * steps.size);
  let k = 0;
  for (const [client, step] of steps) {
    ids[2 * k] = Number(client & 0xffffffffn);
    ids[2 * k + 1] = Number(client >> 32n);
    words[2 * k] = step;
    k++;
  }
  return metaChunk(table, clock, ids, words, AT_FENCE);
}

/** Steps this PS counted beyond those the fence chunk `c` says the source counted, over the workers both know. */
function stepsAhead(mine: ReadonlyMap<bigint, number>, c: Chunk): number {
  const words = metaWords(c);
  let ahead = 0;
  for (let k = 0; k < c.header.rows; k++) {
    const here = mine.get(BigInt(c.ids[2 * k]) | (BigInt(c.ids[2 * k + 1]) << 32n));
    if (here !== undefined) ahead += here - words[2 * k];
  }
  return ahead;
}

/** The `[tick, uses]` words of a `meta` chunk. */
export function metaWords(c: Chunk): Uint32Array {
  return new Uint32Array(c.weights.buffer, c.weights.byteOffset, 2 * c.header.rows);
}

function join(parts: Uint32Array[]): Uint32Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A `meta` chunk: ids, then `[tick, uses]` per row as raw u32 words; the header's state width is the clock. */
export function metaChunk(table: string, clock: number, ids: Uint32Array, words: Uint32Array, bucketEnd = 0): Buffer {
  return Buffer.concat(encodeChunk({
    kind: 'meta', weightFormat: 'f32', table, dim: 2, stateWidth: clock >>> 0, rows: ids.length >>> 1, bucketStart: 0, bucketEnd,
  }, ids, new Float32Array(words.buffer, words.byteOffset, words.length), new Float32Array(0)));
}

/** `sketch` chunks of `cells` (`[cell, count]` pairs), at most SKETCH_CELLS each. */
export function sketchChunks(table: string, cells: Uint32Array): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < cells.length; at += 2 * SKETCH_CELLS) out.push(sketchChunk(table, cells.subarray(at, at + 2 * SKETCH_CELLS)));
  return out;
}

/** A `sketch` chunk: `[cell, count]` pairs in the ids section. */
function sketchChunk(table: string, cells: Uint32Array): Buffer {
  return Buffer.concat(encodeChunk({
    kind: 'sketch', weightFormat: 'f32', table, dim: 0, stateWidth: 0, rows: cells.length >>> 1, bucketStart: 0, bucketEnd: 0,
  }, cells, new Float32Array(0), new Float32Array(0)));
}
