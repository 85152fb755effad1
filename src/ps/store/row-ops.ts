/**
 * Input checks and the row-copy kernel shared by the table classes. Every check throws a
 * TesseraError naming the field before anything is modified.
 */
import { ERROR_CODES, ErrorCode, TesseraError } from '../../common/errors';
import { idAt, IdArray } from '../../wire/key-block';
import { nativeRows } from '../../common/native-rows';

function fail(code: ErrorCode, table: string, message: string): never {
  throw new TesseraError(code, `table "${table}": ${message}`);
}

/** Checks that `ids` is a Uint32Array of (lo, hi) pairs; returns the id count. */
export function checkIds(table: string, ids: IdArray): number {
  if (!(ids instanceof Uint32Array)) fail(ERROR_CODES.BAD_IDS, table, 'ids: must be a Uint32Array of (lo, hi) pairs');
  if (ids.length % 2 !== 0) {
    fail(ERROR_CODES.BAD_IDS, table, `ids: length ${ids.length} is odd; ids are (lo, hi) uint32 pairs`);
  }
  return ids.length >>> 1;
}

/**
 * Checks that `arr` is a Float32Array with room for `need` floats from `off` (exactly `need`
 * floats when `exact`). A wrong `grads` is TESSERA_ERR_BAD_GRADIENT, anything else
 * TESSERA_ERR_INVALID_ARGUMENT.
 */
export function checkRegion(
  table: string, field: string, arr: Float32Array, off: number, need: number, exact = false,
): void {
  const code = field === 'grads' ? ERROR_CODES.BAD_GRADIENT : ERROR_CODES.INVALID_ARGUMENT;
  if (!(arr instanceof Float32Array)) fail(code, table, `${field}: must be a Float32Array`);
  if (!Number.isInteger(off) || off < 0) {
    fail(ERROR_CODES.INVALID_ARGUMENT, table, `${field}: offset ${off} is not a non-negative integer`);
  }
  if (exact && arr.length !== need) {
    const what = field === 'grads' ? `${need} (ids × dim)` : `${need}`;
    fail(code, table, `${field}: length ${arr.length} does not equal ${what}`);
  }
  if (arr.length < off + need) {
    fail(code, table, `${field}: length ${arr.length} is too short for ${need} floats at offset ${off}`);
  }
}

/**
 * Checks every value of `arr` is finite. The message names the first bad index, its value and,
 * when `ids` is given, the row and id it belongs to (rows are `width` floats). The scan runs
 * natively where the addon is built (src/common/native-rows.ts).
 */
export function checkFinite(
  table: string, field: string, arr: Float32Array, width: number, ids: IdArray | null,
): void {
  const len = arr.length;
  const native = nativeRows(len);
  for (let k = native ? native.firstNonFinite(arr) : 0; k >= 0 && k < len; k++) {
    const v = arr[k];
    if (v - v === 0) continue; // false only for NaN and ±Infinity
    const row = Math.floor(k / width);
    const where = ids ? ` (row ${row}, id ${idAt(ids, row)})` : '';
    fail(ERROR_CODES.NON_FINITE, table, `${field}[${k}] is ${v}${where}; values must be finite`);
  }
}

/** True when every value of `a` is finite. */
export function allFinite(a: Float32Array): boolean {
  return rowFinite(a, 0, a.length);
}

/**
 * True when `a[off..off+n)` is all finite. The values are summed in float64 into four
 * independent accumulators (a sum of float32 values cannot overflow float64, so it is finite
 * exactly when every value is; NaN or ±Infinity makes it NaN or infinite, and `z - z` is then
 * not 0). Four sums, not one, because V8 does not vectorize: one running sum is a chain of
 * dependent additions, four let the CPU overlap them.
 */
export function rowFinite(a: Float32Array, off: number, n: number): boolean {
  let z0 = 0, z1 = 0, z2 = 0, z3 = 0;
  const end = off + n;
  let i = off;
  for (; i + 4 <= end; i += 4) {
    z0 += a[i];
    z1 += a[i + 1];
    z2 += a[i + 2];
    z3 += a[i + 3];
  }
  for (; i < end; i++) z0 += a[i];
  const z = (z0 + z1) + (z2 + z3);
  return z - z === 0;
}

/**
 * The refusal of an update that would leave a weight or optimizer state of `row` (`id 42`) non-finite
 * (TESSERA_ERR_NON_FINITE, so INVALID_ARGUMENT on the wire).
 */
export function nonFiniteUpdate(table: string, row: string): TesseraError {
  return new TesseraError(ERROR_CODES.NON_FINITE, `table "${table}": the update of ${row} would make its weights or optimizer state `
    + 'non-finite; nothing of this push was applied. Lower the learning rate, or set the optimizer\'s clip_norm');
}

/** A fresh Int32Array of at least `n` entries, rounded up to limit re-allocation. */
export function growInt32(n: number): Int32Array {
  let cap = 64;
  while (cap < n) cap *= 2;
  return new Int32Array(cap);
}

/**
 * Copies the weights of `rows[0..n)` as float64 pairs: row `r` lives in `slabs[r >>> shift]` at
 * pair offset `(r & mask) * pairStride` and is `pairs` pairs wide; output row `i` goes to
 * `out[i*pairs ..]`. Slots < 0 are skipped. Unrolled by four because V8 does not unroll, and the
 * unrolled form measured ~2× the simple loop (bench/table-bench.ts).
 */
export function rowCopy(
  slabs: Float64Array[], rows: Int32Array, n: number, out: Float64Array,
  pairs: number, pairStride: number, shift: number, mask: number,
): void {
  const tail = pairs & 3;
  const body = pairs - tail;
  for (let i = 0; i < n; i++) {
    const r = rows[i];
    if (r < 0) continue;
    const src = slabs[r >>> shift];
    const s = (r & mask) * pairStride;
    const o = i * pairs;
    let j = 0;
    for (; j < body; j += 4) {
      out[o + j] = src[s + j];
      out[o + j + 1] = src[s + j + 1];
      out[o + j + 2] = src[s + j + 2];
      out[o + j + 3] = src[s + j + 3];
    }
    for (; j < pairs; j++) out[o + j] = src[s + j];
  }
}
