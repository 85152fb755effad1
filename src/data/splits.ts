/**
 * Byte-range splitting of a plain (uncompressed) line file across N readers, with no pre-pass.
 *
 * The ownership rule: **a range [start, end) owns every line that STARTS in [start, end).**
 * A reader of [s, e):
 *   1. if s > 0, seeks to s - 1 and skips through the first '\n' at or after s - 1; so when
 *      byte s - 1 is '\n' the line starting exactly at s is owned, otherwise the partial line
 *      at s belongs to the previous range;
 *   2. reads lines while their start offset is < e; the last one may extend past e.
 * Since every line has exactly one start offset and the ranges tile [0, fileSize), each line
 * is read exactly once for any N, whatever bytes the boundaries land on. A header line (Avazu)
 * starts at offset 0, so only the range containing 0 sees it.
 * Gzip files cannot be split this way (no random access): read them whole.
 */
import { ERROR_CODES, TesseraError } from '../common/errors';

/** A half-open byte range [start, end) of a file. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Splits [0, fileSize) into `n` contiguous ranges of near-equal size (some may be empty when
 * `n` exceeds `fileSize`). Pair with the ownership rule above (implemented by `readLines`).
 *
 * ```ts
 * const ranges = splitByteRanges(fs.statSync(path).size, numWorkers);
 * for await (const { line } of readLines(path, ranges[workerIndex])) { ... }
 * ```
 */
export function splitByteRanges(fileSize: number, n: number): ByteRange[] {
  if (!Number.isSafeInteger(fileSize) || fileSize < 0) {
    throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `fileSize must be a non-negative integer, got ${fileSize}`);
  }
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `range count must be a positive integer, got ${n}`);
  }
  const ranges: ByteRange[] = [];
  for (let i = 0; i < n; i++) {
    // fileSize * i is exact below 2^53: a 1 TB file split 1000 ways is ~1e15 < 9e15.
    ranges.push({ start: Math.floor((fileSize * i) / n), end: Math.floor((fileSize * (i + 1)) / n) });
  }
  return ranges;
}

/** Throws INVALID_ARGUMENT unless `range` is a well-formed [start, end) with 0 <= start <= end. */
export function checkByteRange(range: ByteRange): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || start < 0 || !(Number.isSafeInteger(end) || end === Infinity) || end < start) {
    throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `invalid byte range [${start}, ${end})`);
  }
}
