/**
 * IEEE 754 half-precision conversion for the optional fp16 wire encoding.
 *
 * Decoding uses a 65,536-entry lookup table (256 KiB, built once on first use). Encoding rounds
 * to nearest even and maps overflow to ±Inf, like numpy's `astype(float16)`.
 */

let decodeTable: Float32Array | null = null;

function buildDecodeTable(): Float32Array {
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) table[h] = sign * frac * 2 ** -24;
    else if (exp === 31) table[h] = frac === 0 ? sign * Infinity : NaN;
    else table[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return table;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Converts one float to its fp16 bit pattern (round to nearest even). */
export function toHalfBits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf or NaN (quiet)
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00; // overflow to Inf
  if (e <= 0) {
    if (e < -10) return sign; // underflows to ±0
    const m = mant | 0x800000; // implicit leading 1
    const shift = 14 - e;
    const half = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rem > mid || (rem === mid && (half & 1)) ? 1 : 0));
  }
  const half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // Rounding can carry into the exponent, which correctly yields the next binade or Inf.
  return sign | (half + (rem > 0x1000 || (rem === 0x1000 && (half & 1)) ? 1 : 0));
}

/** Encodes `src` into fp16 bits in `dst` (same length). */
export function encodeF16(src: Float32Array, dst: Uint16Array): void {
  for (let i = 0; i < src.length; i++) dst[i] = toHalfBits(src[i]);
}

/**
 * Decodes `n` fp16 values from `src[srcOff..]` into `dst[dstOff..]`; by default all of `src` into
 * `dst` (same length). The one fp16 decode: the wire, the f16 row slabs and the disk tier use it.
 */
export function decodeF16(src: Uint16Array, dst: Float32Array, srcOff = 0, dstOff = 0, n = src.length - srcOff): void {
  const table = halfDecodeTable();
  for (let i = 0; i < n; i++) dst[dstOff + i] = table[src[srcOff + i]];
}

/** The shared 65,536-entry fp16 → float32 table (built on first use); index it by half bits. */
export function halfDecodeTable(): Float32Array {
  return decodeTable ?? (decodeTable = buildDecodeTable());
}
