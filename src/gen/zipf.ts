/**
 * An O(1) Zipf sampler for vocabularies up to 2^40 ids, by rejection-inversion (W. Hörmann and
 * G. Derflinger, "Rejection-inversion to generate variates from monotone discrete distributions",
 * ACM TOMACS 6(3), 1996), the same algorithm as Apache Commons RNG's
 * RejectionInversionZipfSampler. No table of size n is built, so n = 2^40 costs what n = 10 does;
 * the expected number of uniforms per sample is close to 1 (the rejection rate is tiny for s ≥ 1).
 *
 * P(k) = k^−s / H(n, s) for k in [1, n], where H(n, s) = Σ_{i=1..n} i^−s.
 */
import { Xoshiro128 } from './rng';

/** Largest vocabulary (number of ranks) a sampler accepts. */
export const MAX_ZIPF_N = 2 ** 40;

/** log1p(x)/x, accurate near 0 (where the (1 − s)·log x argument vanishes for s ≈ 1). */
function helper1(x: number): number {
  return Math.abs(x) > 1e-8 ? Math.log1p(x) / x : 1 - x * (0.5 - x * (1 / 3 - 0.25 * x));
}

/** expm1(x)/x, accurate near 0. */
function helper2(x: number): number {
  return Math.abs(x) > 1e-8 ? Math.expm1(x) / x : 1 + x * 0.5 * (1 + x * (1 / 3) * (1 + 0.25 * x));
}

/**
 * Samples ranks 1..n with P(k) ∝ k^−s. Stateless apart from its constants: pass the PRNG to
 * `sample`, so one sampler can serve many fields and streams.
 *
 * ```ts
 * const zipf = new ZipfSampler(2 ** 40, 1.1);
 * const rank = zipf.sample(new Xoshiro128(7)); // integer in [1, 2^40]
 * ```
 */
export class ZipfSampler {
  /** Number of ranks. */
  readonly n: number;
  /** The exponent s > 0. */
  readonly s: number;
  private readonly hIntegralX1: number;
  private readonly hIntegralN: number;
  /** Acceptance shortcut: samples with k − x ≤ this need no extra test. */
  private readonly shortcut: number;

  /**
   * @param n vocabulary size, an integer in [1, 2^40].
   * @param s exponent, a finite number > 0 (1.1 is a typical CTR-feature value).
   * @throws RangeError on a bad n or s (callers validate user input first and name the option).
   */
  constructor(n: number, s: number) {
    if (!Number.isInteger(n) || n < 1 || n > MAX_ZIPF_N) throw new RangeError(`zipf n must be an integer in [1, 2^40], got ${n}`);
    if (!Number.isFinite(s) || s <= 0) throw new RangeError(`zipf exponent must be > 0, got ${s}`);
    this.n = n;
    this.s = s;
    this.hIntegralX1 = this.hIntegral(1.5) - 1;
    this.hIntegralN = this.hIntegral(n + 0.5);
    this.shortcut = 2 - this.hIntegralInverse(this.hIntegral(2.5) - this.h(2));
  }

  /** Draws one rank in [1, n]. */
  sample(rng: Xoshiro128): number {
    for (;;) {
      // u is uniform on (hIntegral(1.5) − 1, hIntegral(n + 0.5)]: the area under the hat.
      const u = this.hIntegralN + rng.nextDouble() * (this.hIntegralX1 - this.hIntegralN);
      const x = this.hIntegralInverse(u);
      let k = Math.floor(x + 0.5);
      if (k < 1) k = 1;
      else if (k > this.n) k = this.n;
      if (k - x <= this.shortcut || u >= this.hIntegral(k + 0.5) - this.h(k)) return k;
    }
  }

  /** h(x) = x^−s, the (unnormalised) density of the hat. */
  private h(x: number): number {
    return Math.exp(-this.s * Math.log(x));
  }

  /** H(x) = ∫ h = (x^(1−s) − 1)/(1 − s), written to stay accurate as s → 1 (where H = log x). */
  private hIntegral(x: number): number {
    const logX = Math.log(x);
    return helper2((1 - this.s) * logX) * logX;
  }

  /** The inverse of hIntegral. */
  private hIntegralInverse(x: number): number {
    let t = x * (1 - this.s);
    if (t < -1) t = -1; // rounding guard: t ≥ −1 holds mathematically on the sampled range
    return Math.exp(helper1(t) * x);
  }
}

/**
 * The exact Zipf pmf P(k) = k^−s / H(n, s), by summing H directly: O(n), for tests and small n.
 *
 * ```ts
 * zipfPmf(1000, 1.1, 1); // ≈ 0.1493
 * ```
 */
export function zipfPmf(n: number, s: number, k: number): number {
  let h = 0;
  for (let i = n; i >= 1; i--) h += i ** -s; // smallest terms first: better rounding
  return k ** -s / h;
}
