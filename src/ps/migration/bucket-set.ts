/**
 * The buckets of a migration on the wire (packed little-endian uint32) and in memory (a mask,
 * bucket → 1), checked once where they arrive.
 */
import { ERROR_CODES, TesseraError } from '../../common/errors';
import { bucketOf } from '../../sharding/buckets';

/**
 * Decodes packed uint32 bucket numbers into a mask of `numBuckets` entries. INVALID_ARGUMENT
 * naming `key` for a length that is not a multiple of 4, an empty list, or a bucket out of range.
 */
export function bucketMaskFromBytes(bytes: Uint8Array, numBuckets: number, key: string): Uint8Array {
  if (bytes.byteLength === 0 || bytes.byteLength % 4 !== 0) {
    throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `${key}: ${bytes.byteLength} bytes is not a non-empty list of packed uint32 bucket numbers`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const mask = new Uint8Array(numBuckets);
  for (let i = 0; i < bytes.byteLength; i += 4) {
    const b = view.getUint32(i, true);
    if (b >= numBuckets) throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `${key}: bucket ${b} is outside [0, ${numBuckets})`);
    mask[b] = 1;
  }
  return mask;
}

/** The buckets of a mask, packed as little-endian uint32 (the wire form). */
export function bucketMaskToBytes(mask: Uint8Array): Buffer {
  const out: number[] = [];
  for (let b = 0; b < mask.length; b++) if (mask[b] === 1) out.push(b);
  return Buffer.from(Uint32Array.from(out).buffer);
}

/** The ids (lo, hi pairs) of `ids` whose bucket is in `mask`. */
export function idsInMask(ids: Uint32Array, mask: Uint8Array): Uint32Array {
  const keep: number[] = [];
  for (let k = 0; k < ids.length; k += 2) if (mask[bucketOf(ids[k], ids[k + 1], mask.length)] === 1) keep.push(ids[k], ids[k + 1]);
  return Uint32Array.from(keep);
}
