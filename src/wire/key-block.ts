/**
 * Ids and values on the wire and in memory.
 *
 * Convention used everywhere on the hot path: a batch of u64 ids is an `IdArray`, a
 * `Uint32Array` holding little-endian pairs `[lo0, hi0, lo1, hi1, ...]`. That is byte-for-byte the
 * wire layout (packed little-endian u64), so a wire buffer becomes an `IdArray` without decoding
 * and no BigInt is created per id. Values and gradients are `Float32Array`s, row-major
 * `[n × dim]`.
 */

/** A batch of u64 ids as little-endian (lo, hi) uint32 pairs. `length` is 2 × count. */
export type IdArray = Uint32Array;

/** Number of ids in an IdArray. */
export function idCount(ids: IdArray): number {
  return ids.length >>> 1;
}

/** Builds an IdArray from BigInts or non-negative safe integers (tests, CLI, examples). */
export function idsFrom(values: ArrayLike<bigint | number>): IdArray {
  const out = new Uint32Array(values.length * 2);
  for (let i = 0; i < values.length; i++) {
    const v = BigInt(values[i]);
    if (v < 0n || v > 0xffffffffffffffffn) throw new RangeError(`id ${v} is outside the u64 range`);
    out[2 * i] = Number(v & 0xffffffffn);
    out[2 * i + 1] = Number(v >> 32n);
  }
  return out;
}

/** The i-th id as a BigInt (tests and logs only; never on the hot path). */
export function idAt(ids: IdArray, i: number): bigint {
  return (BigInt(ids[2 * i + 1]) << 32n) | BigInt(ids[2 * i]);
}

/** All ids as BigInts (tests and tools only). */
export function idsToBigInts(ids: IdArray): bigint[] {
  const out: bigint[] = new Array(idCount(ids));
  for (let i = 0; i < out.length; i++) out[i] = idAt(ids, i);
  return out;
}

/**
 * Views wire bytes (packed little-endian u64) as an IdArray. Zero-copy when the buffer is 4-byte
 * aligned; otherwise one copy (protobuf `bytes` fields land at arbitrary offsets).
 * The caller has already checked `bytes.byteLength % 8 === 0`.
 */
export function idsFromBytes(bytes: Uint8Array): IdArray {
  return u32FromBytes(bytes);
}

/** Views u32 wire bytes (little-endian) as a Uint32Array; zero-copy when aligned. Length must be a multiple of 4. */
export function u32FromBytes(bytes: Uint8Array): Uint32Array {
  if (bytes.byteOffset % 4 === 0) {
    return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
  }
  const copy = new Uint32Array(bytes.byteLength >>> 2);
  new Uint8Array(copy.buffer).set(bytes);
  return copy;
}

/** Views f32 wire bytes as a Float32Array; zero-copy when aligned. Length must be a multiple of 4. */
export function f32FromBytes(bytes: Uint8Array): Float32Array {
  if (bytes.byteOffset % 4 === 0) {
    return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
  }
  const copy = new Float32Array(bytes.byteLength >>> 2);
  new Uint8Array(copy.buffer).set(bytes);
  return copy;
}

/** Views any typed array as bytes without copying (for the wire). */
export function asBytes(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}
