/**
 * Benchmark workloads: batches of distinct ids drawn Zipf-like over a 2^40 id space.
 * Rank r is drawn log-uniformly (≈ Zipf with s = 1), then scrambled into the id space by an
 * invertible 40-bit mix, so hot ids are spread over every bucket.
 */
import { mulberry32Unit } from '../src/common/mulberry32';

/** A seeded generator of doubles in [0, 1) (mulberry32). */
export const rng = mulberry32Unit;

const SPACE_BITS = 40;

/** Writes the id of rank `r` (< 2^40) as (lo, hi) into out at pair index i. */
function scramble(r: number, out: Uint32Array, i: number): void {
  // Multiply by an odd constant modulo 2^40 using 20-bit limbs (exact in doubles).
  const a = r % 2 ** 20;
  const b = Math.floor(r / 2 ** 20);
  const c0 = 0x9e3b5;
  const c1 = 0x7f4a7;
  const low = a * c0;
  const mid = (a * c1 + b * c0 + Math.floor(low / 2 ** 20)) % 2 ** 20;
  const v = mid * 2 ** 20 + (low % 2 ** 20);
  out[2 * i] = v % 2 ** 32;
  out[2 * i + 1] = Math.floor(v / 2 ** 32);
}

/** `count` batches of `batch` distinct Zipf-distributed ids each. */
export function zipfBatches(count: number, batch: number, seed = 1): Uint32Array[] {
  const rand = rng(seed);
  const out: Uint32Array[] = [];
  for (let k = 0; k < count; k++) {
    const seen = new Set<number>();
    const ids = new Uint32Array(2 * batch);
    while (seen.size < batch) {
      const r = Math.floor(2 ** (SPACE_BITS * rand())) - 1;
      if (seen.has(r)) continue;
      scramble(r, ids, seen.size);
      seen.add(r);
    }
    out.push(ids);
  }
  return out;
}
