/**
 * MurmurHash3's 32-bit finalizer: a bijective avalanche mix of a uint32. Used by bucket hashing
 * and by the synthetic-data generator's counter-based randomness.
 */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
