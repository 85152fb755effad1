import { expect } from 'chai';
import { Xoshiro128 } from '../../../src/gen/rng';
import { MAX_ZIPF_N, ZipfSampler, zipfPmf } from '../../../src/gen/zipf';

/** Empirical rank frequencies of `draws` samples. */
function histogram(n: number, s: number, draws: number, seed: number): Float64Array {
  const zipf = new ZipfSampler(n, s);
  const rng = new Xoshiro128(seed);
  const counts = new Float64Array(n + 1);
  for (let i = 0; i < draws; i++) counts[zipf.sample(rng)]++;
  return counts;
}

describe('gen/rng', () => {
  it('is deterministic per (seed, stream) and differs across seeds and streams', () => {
    const take = (seed: number, stream: number): number[] => {
      const r = new Xoshiro128(seed, stream);
      return Array.from({ length: 8 }, () => r.nextU32());
    };
    expect(take(5, 1)).to.deep.equal(take(5, 1));
    expect(take(5, 1)).to.not.deep.equal(take(6, 1));
    expect(take(5, 1)).to.not.deep.equal(take(5, 2));
    expect(take(2 ** 40, 0)).to.not.deep.equal(take(0, 0)); // the high half of the seed counts
  });

  it('gives uniform doubles in [0, 1) and standard normals', () => {
    const r = new Xoshiro128(9);
    const N = 100_000;
    let sum = 0;
    let gSum = 0;
    let gSq = 0;
    for (let i = 0; i < N; i++) {
      const u = r.nextDouble();
      expect(u).to.be.at.least(0).and.below(1);
      sum += u;
      const g = r.nextGaussian();
      gSum += g;
      gSq += g * g;
    }
    expect(sum / N).to.be.closeTo(0.5, 0.005);
    expect(gSum / N).to.be.closeTo(0, 0.02);
    expect(gSq / N).to.be.closeTo(1, 0.02);
  });
});

describe('gen/zipf', () => {
  for (const s of [1.1, 1, 0.8]) {
    it(`matches the Zipf pmf on the top ranks for n = 1000, s = ${s}`, () => {
      const draws = 200_000;
      const counts = histogram(1000, s, draws, 3);
      expect(counts[0]).to.equal(0);
      for (let k = 1; k <= 20; k++) {
        const p = zipfPmf(1000, s, k);
        const sd = Math.sqrt((p * (1 - p)) / draws);
        // 5 standard deviations: a false alarm is ~1e-6 per rank.
        expect(counts[k] / draws, `rank ${k}`).to.be.closeTo(p, 5 * sd);
      }
      // The tail mass as a whole, too (ranks 101..1000).
      let tail = 0;
      let tailP = 0;
      for (let k = 101; k <= 1000; k++) {
        tail += counts[k];
        tailP += zipfPmf(1000, s, k);
      }
      expect(tail / draws).to.be.closeTo(tailP, 5 * Math.sqrt((tailP * (1 - tailP)) / draws));
    });
  }

  it('keeps ranks integral and within [1, n] for n = 2^40, reaching beyond 2^32', () => {
    const zipf = new ZipfSampler(MAX_ZIPF_N, 1.1);
    const rng = new Xoshiro128(17);
    let above32 = 0;
    let max = 0;
    const draws = 50_000;
    for (let i = 0; i < draws; i++) {
      const k = zipf.sample(rng);
      if (!(Number.isInteger(k) && k >= 1 && k <= MAX_ZIPF_N)) expect.fail(`rank ${k} out of [1, 2^40]`);
      if (k > 2 ** 32) above32++;
      if (k > max) max = k;
    }
    // P(k > 2^32) = Σ_{2^32 < k ≤ 2^40} k^-1.1 / H(2^40, 1.1) ≈ 10·(2^-3.2 − 2^-4) / (ζ(1.1) − 10·2^-4)
    // = 0.4632 / 9.959 ≈ 0.0465 (integral approximation); ±0.005 is about 5 standard deviations.
    expect(above32 / draws).to.be.closeTo(0.0465, 0.005);
    expect(max).to.be.above(2 ** 38);
    expect(histogram(1, 1.1, 100, 1)[1]).to.equal(100); // n = 1: always rank 1
  });

  it('rejects a bad n or exponent', () => {
    expect(() => new ZipfSampler(0, 1.1)).to.throw(RangeError);
    expect(() => new ZipfSampler(2 ** 40 + 1, 1.1)).to.throw(RangeError);
    expect(() => new ZipfSampler(10, 0)).to.throw(RangeError);
    expect(() => new ZipfSampler(10, NaN)).to.throw(RangeError);
  });
});
