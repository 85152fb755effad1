/**
 * Push staleness on the client: which training steps are sampled, and the row versions they
 * carry from pull to push. A sampled step's pulls ask each PS for the version of every row they
 * read (PullRequest.want_versions); its push asks for each row's version just before the push
 * applied (PushRequest.want_versions); the difference, per row, is the number of other updates
 * that landed on the row in between. The data client moves versions through the same dedup,
 * slicing and chunking as the rows, with the helpers here.
 *
 * ```ts
 * const sampler = new StalenessSampler(16);
 * if (sampler.next()) { ... pull with versions, push with them ... }
 * onStaleness(stalenessOf(read, before));   // per row: updates between the pull and the push
 * ```
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { Slice } from '../sharding/slicer';

/**
 * A version nobody read: a PS that does not report versions (an older build) answered the pull,
 * or the rows' pushes must not count. Such rows are left out of the staleness figures.
 */
export const UNKNOWN_VERSION = 0xffffffff;

/** Default of `stalenessSampleEvery`: one training step in 16 measures push staleness. */
export const DEFAULT_STALENESS_SAMPLE_EVERY = 16;

/** Picks one training step in `every` (the first, then every `every`-th); 0 picks none. */
export class StalenessSampler {
  private calls = 0;

  constructor(readonly every: number) {
    if (!Number.isSafeInteger(every) || every < 0) {
      throw new TesseraError(ERROR_CODES.CONFIG, `stalenessSampleEvery: must be a non-negative integer (0 = off), got ${every}`);
    }
  }

  /** True when this step is sampled. */
  next(): boolean {
    if (this.every === 0) return false;
    return this.calls++ % this.every === 0;
  }
}

/**
 * Writes versions `got` (one PS's answer for rows `[from, to)` of `slice`) to `out` in batch
 * order; a missing answer (`got` null or of the wrong length) writes UNKNOWN_VERSION.
 */
export function stitchVersions(slice: Slice, got: Uint32Array | null, out: Uint32Array, from: number, to: number): void {
  const known = got !== null && got.length === to - from;
  for (let k = from; k < to; k++) out[slice.positions[k]] = known ? got[k - from] : UNKNOWN_VERSION;
}

/** Versions of rows `[from, to)` of `slice`, picked out of batch-ordered `src` (as gatherRows). */
export function gatherVersions(slice: Slice, src: Uint32Array, from: number, to: number): Uint32Array {
  const out = new Uint32Array(to - from);
  for (let k = from; k < to; k++) out[k - from] = src[slice.positions[k]];
  return out;
}

/**
 * Moves per-id versions between the caller's order and the distinct ids' order: `inverse[i]` is
 * the distinct index of input id i. `toDistinct` keeps one version per distinct id (ids repeated
 * in one batch were read by one pull, so they agree); `fromDistinct` copies them back out.
 */
export function toDistinct(versions: Uint32Array, inverse: Uint32Array, count: number): Uint32Array {
  const out = new Uint32Array(count);
  for (let i = 0; i < inverse.length; i++) out[inverse[i]] = versions[i];
  return out;
}

/** The reverse of `toDistinct`: `out[i] = distinct[inverse[i]]`. */
export function fromDistinct(distinct: Uint32Array, inverse: Uint32Array, out: Uint32Array): void {
  for (let i = 0; i < inverse.length; i++) out[i] = distinct[inverse[i]];
}

/**
 * Per row, the updates that landed between its pull (version `read[k]`) and this push (version
 * `before[k]` just before it applied): `before - read`, modulo 2^32. Rows left out: an unknown
 * read, a push answered without versions, and a row whose version went back (it was evicted
 * and created again, or restored, between the pull and the push: its count restarted).
 */
export function stalenessOf(read: Uint32Array, before: Uint32Array | null): Uint32Array {
  if (before === null || before.length !== read.length) return new Uint32Array(0);
  const out = new Uint32Array(read.length);
  let m = 0;
  for (let k = 0; k < read.length; k++) {
    if (read[k] === UNKNOWN_VERSION) continue;
    const d = (before[k] - read[k]) >>> 0;
    if (d < 0x80000000) out[m++] = d;
  }
  return out.subarray(0, m);
}
