/**
 * Seeded pseudo-random numbers for the synthetic-data generator: xoshiro128** on 32-bit ints,
 * seeded through splitmix32. Everything is integer arithmetic on `Math.imul` and shifts (plus
 * `Math.log`/`cos` for Gaussians, which V8 computes with its own fdlibm port), so a seed gives the
 * same stream on every platform, and `tessera gen` writes byte-identical files for the same seed.
 */

/** Largest seed accepted: any non-negative safe integer. */
export const MAX_SEED = Number.MAX_SAFE_INTEGER;

/** 2^32 as a float, to split a seed into 32-bit halves. */
const TWO_32 = 4294967296;
/** 2^-53: turns a 53-bit integer into a double in [0, 1). */
const TWO_NEG_53 = 1 / 9007199254740992;

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

import { fmix32 } from '../common/fmix32';

export { fmix32 };

/**
 * xoshiro128** (Blackman & Vigna): a small, fast PRNG with 128 bits of state, period 2^128 − 1.
 * Different `stream` values under one seed give independent-looking streams (train rows, eval
 * rows, teacher weights), so adding an eval split never changes the training rows.
 *
 * ```ts
 * const rng = new Xoshiro128(42, 1);
 * const u = rng.nextDouble(); // [0, 1)
 * ```
 */
export class Xoshiro128 {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;
  /** The second Box–Muller value, kept for the next nextGaussian() call. */
  private spare = 0;
  private hasSpare = false;

  /**
   * @param seed a non-negative safe integer (both 32-bit halves are used).
   * @param stream selects an independent stream under the same seed.
   */
  constructor(seed: number, stream = 0) {
    // splitmix32 over (lo, hi, stream) fills the state; its outputs are never all zero in practice,
    // and the guard below covers the one forbidden state anyway.
    let s = fmix32((seed >>> 0) ^ 0x7e55e7a) ^ fmix32(Math.floor(seed / TWO_32) + 0x9e3779b9) ^ Math.imul(stream, 0x632be5ab);
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0;
      return fmix32(s) | 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  /** A uniform uint32. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** A uniform double in [0, 1) with 53 random bits (needed to reach the tail of a 2^40 Zipf). */
  nextDouble(): number {
    const hi = this.nextU32() >>> 5;
    const lo = this.nextU32() >>> 6;
    return (hi * 67108864 + lo) * TWO_NEG_53;
  }

  /** A uniform double in [0, 1) with 32 random bits: cheaper, enough for coin flips. */
  nextFloat(): number {
    return this.nextU32() / TWO_32;
  }

  /** A standard normal draw (Box–Muller; the paired value is cached for the next call). */
  nextGaussian(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    const u1 = (this.nextU32() + 0.5) / TWO_32; // (0, 1): log(u1) is finite
    const theta = (2 * Math.PI * this.nextU32()) / TWO_32;
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(theta);
    this.hasSpare = true;
    return r * Math.cos(theta);
  }
}
