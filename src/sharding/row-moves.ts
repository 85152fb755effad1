/**
 * Moving whole rows of a [n × dim] Float32Array by an index, as the client does when it stitches
 * a PS's answer into batch order and fans deduplicated rows back out to every position.
 *
 * When `dim` is even and both arrays start on an 8-byte boundary, rows move as float64 pairs
 * through Float64Array views, unrolled by two pairs: half the loads and stores of a float32 loop
 * (the PS's row slabs gather the same way). A pair moved as a float64 keeps its bits unless its
 * high float32 is a NaN; pulled rows are finite (the PS refuses non-finite updates). Where the
 * native addon is built (src/common/native-rows.ts, ADR 0041), rows move there instead, one
 * `memcpy` each.
 *
 * ```ts
 * scatterRows(rows, out, positions, from, to, 16); // row k - from of rows → row positions[k] of out
 * gatherRowsAt(unique, out, inverse, 16);          // row inverse[i] of unique → row i of out
 * ```
 */
import { nativeRows } from '../common/native-rows';

function pairs(a: Float32Array): Float64Array | null {
  return (a.byteOffset & 7) === 0 ? new Float64Array(a.buffer, a.byteOffset, a.length >>> 1) : null;
}

/** Row `k - from` of `src` to row `at[k]` of `dst`, for k in [from, to). */
export function scatterRows(src: Float32Array, dst: Float32Array, at: Uint32Array, from: number, to: number, dim: number): void {
  const native = nativeRows(to - from);
  if (native) {
    native.copyRowsTo(src, dst, at, from, to, dim);
    return;
  }
  const s64 = (dim & 1) === 0 ? pairs(src) : null;
  const d64 = s64 ? pairs(dst) : null;
  if (s64 && d64) {
    const p = dim >>> 1;
    for (let k = from; k < to; k++) copyPairs(s64, (k - from) * p, d64, at[k] * p, p);
    return;
  }
  for (let k = from; k < to; k++) {
    const o = at[k] * dim, i = (k - from) * dim;
    for (let d = 0; d < dim; d++) dst[o + d] = src[i + d];
  }
}

/** Row `from[i]` of `src` to row i of `dst`, for every i of `from`. */
export function gatherRowsAt(src: Float32Array, dst: Float32Array, from: Uint32Array | Int32Array, dim: number): void {
  const native = nativeRows(from.length);
  if (native) {
    native.copyRowsFrom(src, dst, from, 0, from.length, dim);
    return;
  }
  const s64 = (dim & 1) === 0 ? pairs(src) : null;
  const d64 = s64 ? pairs(dst) : null;
  if (s64 && d64) {
    const p = dim >>> 1;
    for (let i = 0; i < from.length; i++) copyPairs(s64, from[i] * p, d64, i * p, p);
    return;
  }
  for (let i = 0; i < from.length; i++) {
    const s = from[i] * dim, o = i * dim;
    for (let d = 0; d < dim; d++) dst[o + d] = src[s + d];
  }
}

function copyPairs(src: Float64Array, s: number, dst: Float64Array, o: number, p: number): void {
  let j = 0;
  for (; j + 1 < p; j += 2) {
    dst[o + j] = src[s + j];
    dst[o + j + 1] = src[s + j + 1];
  }
  if (j < p) dst[o + j] = src[s + j];
}
