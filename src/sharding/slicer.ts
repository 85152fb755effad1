/**
 * Splits a (deduplicated) id batch into one slice per owning PS, and stitches the per-PS answers
 * back into batch order. Like ps-lite's DefaultSlicer, PS that own no id of the batch get no
 * slice, so no empty request is sent.
 *
 * ```ts
 * const slices = sliceByOwner(unique, map);
 * const rows = await Promise.all(slices.map((s) => pull(map.ps[s.psIndex], s.ids)));
 * slices.forEach((s, k) => stitchRows(s, rows[k], dim, values)); // values: [unique count × dim]
 * slices.forEach((s) => push(map.ps[s.psIndex], s.ids, gatherRows(s, grads, dim)));
 * ```
 */

import { ERROR_CODES, TesseraError } from '../common/errors';
import type { IdArray } from '../wire/key-block';
import { gatherRowsAt, scatterRows } from './row-moves';
import { ownerOf, type ShardMap } from './shard-map';

/** The ids of one batch that one PS owns. */
export interface Slice {
  /** Index into `map.ps` of the owner. */
  psIndex: number;
  /** The ids, in input order. */
  ids: IdArray;
  /** positions[j] = index in the input batch of the j-th id of this slice (ascending). */
  positions: Uint32Array;
}

/**
 * Gives `words` uint32 words (not necessarily zeroed) for the slices of one batch of n ids
 * (3n words): each slice's ids (2 words an id), then its positions (1 word an id), slice after
 * slice by psIndex (`slicesIn`).
 */
export type SliceAlloc = (words: number) => Uint32Array;

/**
 * Partition function: the index (into `map.ps`) of the PS that owns id (lo, hi). Injectable
 * (like TFRA's `partition_fn`); it must be deterministic, since it is called twice per id.
 */
export type OwnerFn = (lo: number, hi: number) => number;

/**
 * Owner of each id of the current batch, computed in the counting pass and reused by the filling
 * pass. Module scratch (grown, never shrunk) so slicing allocates nothing per id; safe because
 * slicing is synchronous.
 */
let ownerScratch = new Uint16Array(0);

function invalid(message: string): TesseraError {
  return new TesseraError(ERROR_CODES.INVALID_ARGUMENT, message);
}

function checkDim(dim: number): void {
  if (!Number.isInteger(dim) || dim < 1) throw invalid(`dim must be a positive integer, got ${dim}`);
}

/**
 * Splits `ids` by owning PS: one {@link Slice} per PS that owns at least one id, ordered by
 * psIndex; ids keep their input order within a slice. Two passes (count, then fill), and every
 * slice lies in one allocation of 3n words (from `alloc` when given; `slicesIn`). A client's
 * pull or push slices its ids with `Deduper.dedupAndSlice` instead (one native pass with the
 * dedup); this is the slicing of ids already distinct (a slice sliced again by a newer map) and
 * of an injected partition function.
 *
 * @param ownerFn partition function; defaults to the bucket map, `ownerOf(map, lo, hi)`.
 * @param alloc where the slices' words come from (a reused buffer; every word is written);
 *   default: a fresh array.
 * @throws TesseraError BAD_IDS for an odd-length IdArray; INVALID_ARGUMENT when ownerFn returns
 *   something that is not an index into map.ps.
 */
export function sliceByOwner(ids: IdArray, map: ShardMap, ownerFn?: OwnerFn, alloc?: SliceAlloc): Slice[] {
  if (ids.length % 2 !== 0) throw new TesseraError(ERROR_CODES.BAD_IDS, `ids has odd length ${ids.length}`);
  const n = ids.length >>> 1;
  const numPs = map.ps.length;
  if (ownerScratch.length < n) ownerScratch = new Uint16Array(Math.max(n, 2 * ownerScratch.length));
  const owners = ownerScratch;
  const counts = new Uint32Array(numPs);
  countOwners(ids, n, map, ownerFn, owners, counts);
  const slices = slicesIn(n > 0 && alloc ? alloc(3 * n) : new Uint32Array(3 * n), counts);
  const sliceOf: Slice[] = new Array(numPs);
  for (const s of slices) sliceOf[s.psIndex] = s;
  counts.fill(0); // reused as the fill cursor per PS
  for (let i = 0; i < n; i++) {
    const o = owners[i];
    const s = sliceOf[o];
    const j = counts[o]++;
    s.ids[2 * j] = ids[2 * i];
    s.ids[2 * j + 1] = ids[2 * i + 1];
    s.positions[j] = i;
  }
  return slices;
}

/**
 * The slices laid out in `words`, `counts[p]` ids owned by PS p: from PS 0 on, each PS that owns
 * any gets 2 words an id for its ids, then 1 an id for its positions, right after the previous
 * one's. The one layout of `sliceByOwner` and of the native `dedupSlice`.
 */
export function slicesIn(words: Uint32Array, counts: Uint32Array): Slice[] {
  const slices: Slice[] = [];
  let at = 0;
  for (let p = 0; p < counts.length; p++) {
    const c = counts[p];
    if (c === 0) continue;
    slices.push({ psIndex: p, ids: words.subarray(at, at + 2 * c), positions: words.subarray(at + 2 * c, at + 3 * c) });
    at += 3 * c;
  }
  return slices;
}

/** The first pass of `sliceByOwner` in JavaScript: each id's owner, and the ids per owner. */
function countOwners(ids: IdArray, n: number, map: ShardMap, ownerFn: OwnerFn | undefined, owners: Uint16Array, counts: Uint32Array): void {
  const numPs = counts.length;
  for (let i = 0; i < n; i++) {
    const lo = ids[2 * i], hi = ids[2 * i + 1];
    const o = ownerFn === undefined ? ownerOf(map, lo, hi) : ownerFn(lo, hi);
    if (o !== o >>> 0 || o >= numPs) {
      throw invalid(`ownerFn returned ${o} for id index ${i}; expected an integer in [0, ${numPs})`);
    }
    owners[i] = o;
    counts[o]++;
  }
}

/**
 * Writes a PS's answer for rows `[from, to)` of `slice` back in batch order: row j of `rows`
 * lands at row `slice.positions[from + j]` of `out`. A slice's answer may come in several
 * requests, so the range says which part this is (default: the whole slice).
 *
 * @throws TesseraError DIM_MISMATCH when `rows` is not `(to - from) × dim` values (a PS answered
 *   with the wrong length); INVALID_ARGUMENT for a bad dim or range, or an `out` too short.
 */
export function stitchRows(slice: Slice, rows: Float32Array, dim: number, out: Float32Array, from = 0, to = slice.positions.length): void {
  checkRange(slice, dim, from, to);
  const count = to - from;
  if (rows.length !== count * dim) {
    throw new TesseraError(
      ERROR_CODES.DIM_MISMATCH,
      `rows (ps index ${slice.psIndex}) has ${rows.length} values, expected ${count} ids × dim ${dim} = ${count * dim}`,
    );
  }
  const positions = slice.positions;
  if (count > 0 && (positions[to - 1] + 1) * dim > out.length) {
    throw invalid(`out has ${out.length} values, too short for row ${positions[to - 1]} × dim ${dim}`);
  }
  scatterRows(rows, out, positions, from, to, dim);
}

/**
 * Picks rows `[from, to)` of `slice` (default: all of it) out of a batch-ordered `src`
 * ([n × dim], e.g. gradients for a push), in slice order, into `out` when given (exactly
 * [(to − from) × dim]; a reused buffer) or a new array.
 *
 * @throws TesseraError INVALID_ARGUMENT for a bad dim or range, a `src` that is not [n × dim]
 *   with every slice position < n, or an `out` of another length.
 */
export function gatherRows(slice: Slice, src: Float32Array, dim: number, from = 0, to = slice.positions.length, out?: Float32Array): Float32Array {
  checkRange(slice, dim, from, to);
  if (src.length % dim !== 0) throw invalid(`src has ${src.length} values, not a multiple of dim ${dim}`);
  const n = src.length / dim;
  const positions = slice.positions;
  if (to > from && positions[to - 1] >= n) throw invalid(`slice position ${positions[to - 1]} is outside src ([${n} × ${dim}])`);
  if (out !== undefined && out.length !== (to - from) * dim) throw invalid(`out has ${out.length} values, expected ${to - from} rows × dim ${dim}`);
  const into = out ?? new Float32Array((to - from) * dim);
  gatherRowsAt(src, into, positions.subarray(from, to), dim);
  return into;
}

function checkRange(slice: Slice, dim: number, from: number, to: number): void {
  checkDim(dim);
  if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to < from || to > slice.positions.length) {
    throw invalid(`rows [${from}, ${to}) are not within the slice's ${slice.positions.length}`);
  }
}
