/**
 * Synthetic Criteo-shaped feature rows: 13 skewed non-negative integers and 26 Zipf-distributed
 * categorical ranks, with Criteo-like missingness. Labels come from the teacher (teacher.ts).
 */
import { Xoshiro128 } from './rng';
import { MAX_ZIPF_N, ZipfSampler } from './zipf';

/** Integer columns I1..I13. */
export const NUM_INTEGER = 13;
/** Categorical columns C1..C26. */
export const NUM_CATEGORICAL = 26;
/** Integers are clipped here so a 6σ draw of exp(normal) stays a short decimal. */
export const MAX_INTEGER = 1_000_000_000;
/** Stream of the per-field distribution parameters (see Xoshiro128's `stream`). */
const STREAM_SPEC = 11;

/** One row's features. `NaN` in `numeric` and `0` in `ranks` mean missing (an empty field). */
export interface FeatureRow {
  /** I1..I13 as non-negative integers, or NaN when missing. */
  numeric: Float64Array;
  /** C1..C26 Zipf ranks in [1, vocab], or 0 when missing. */
  ranks: Float64Array;
}

/** The per-field distributions, drawn once from the seed. */
export interface FeatureSpec {
  /** Integer i is floor(exp(N(numMu[i], numSigma[i]²))). */
  numMu: Float64Array;
  numSigma: Float64Array;
  /** Probability that integer i is empty (about 10% on average). */
  numMissing: Float64Array;
  /** Probability that categorical j is empty (5% for every third field, else 0). */
  catMissing: Float64Array;
  /** Vocabulary size per categorical field. */
  vocab: readonly number[];
  /** Zipf exponent. */
  zipf: number;
}

/** A new row with every field missing. */
export function newFeatureRow(): FeatureRow {
  return { numeric: new Float64Array(NUM_INTEGER).fill(NaN), ranks: new Float64Array(NUM_CATEGORICAL) };
}

/**
 * Draws the per-field distributions for `seed`.
 *
 * ```ts
 * const spec = featureSpec(42, 1e6, 1.1);
 * ```
 * @param vocab one size for all 26 fields, or one per field; each an integer in [1, 2^40].
 */
export function featureSpec(seed: number, vocab: number | readonly number[], zipf: number): FeatureSpec {
  const sizes = typeof vocab === 'number' ? new Array<number>(NUM_CATEGORICAL).fill(vocab) : [...vocab];
  if (sizes.length !== NUM_CATEGORICAL) throw new RangeError(`vocab needs ${NUM_CATEGORICAL} sizes, got ${sizes.length}`);
  for (const v of sizes) if (!Number.isInteger(v) || v < 1 || v > MAX_ZIPF_N) throw new RangeError(`vocab must be an integer in [1, 2^40], got ${v}`);
  const rng = new Xoshiro128(seed, STREAM_SPEC);
  const spec: FeatureSpec = {
    numMu: new Float64Array(NUM_INTEGER),
    numSigma: new Float64Array(NUM_INTEGER),
    numMissing: new Float64Array(NUM_INTEGER),
    catMissing: new Float64Array(NUM_CATEGORICAL),
    vocab: Object.freeze(sizes),
    zipf,
  };
  for (let i = 0; i < NUM_INTEGER; i++) {
    spec.numMu[i] = 3 * rng.nextFloat(); // medians from 1 to ~20, like Criteo's count features
    spec.numSigma[i] = 0.5 + 1.5 * rng.nextFloat();
    spec.numMissing[i] = 0.2 * rng.nextFloat(); // mean 10%
  }
  for (let j = 0; j < NUM_CATEGORICAL; j++) spec.catMissing[j] = j % 3 === 2 ? 0.05 : 0;
  return spec;
}

/**
 * Draws feature rows from a FeatureSpec with a given PRNG stream.
 *
 * ```ts
 * const sampler = new RowSampler(spec, new Xoshiro128(seed, 1));
 * const row = newFeatureRow();
 * sampler.next(row);
 * ```
 */
export class RowSampler {
  private readonly samplers: ZipfSampler[];

  constructor(
    private readonly spec: FeatureSpec,
    private readonly rng: Xoshiro128,
  ) {
    // Fields with the same vocabulary share one (stateless) sampler.
    const byVocab = new Map<number, ZipfSampler>();
    this.samplers = spec.vocab.map((n) => {
      let z = byVocab.get(n);
      if (!z) byVocab.set(n, (z = new ZipfSampler(n, spec.zipf)));
      return z;
    });
  }

  /** Overwrites `row` with the next draw. The draw order is fixed: it defines the file bytes. */
  next(row: FeatureRow): void {
    const { spec, rng } = this;
    for (let i = 0; i < NUM_INTEGER; i++) {
      const g = rng.nextGaussian();
      if (rng.nextFloat() < spec.numMissing[i]) {
        row.numeric[i] = NaN;
      } else {
        row.numeric[i] = Math.min(MAX_INTEGER, Math.floor(Math.exp(spec.numMu[i] + spec.numSigma[i] * g)));
      }
    }
    for (let j = 0; j < NUM_CATEGORICAL; j++) {
      const missing = spec.catMissing[j] > 0 && rng.nextFloat() < spec.catMissing[j];
      row.ranks[j] = missing ? 0 : this.samplers[j].sample(rng);
    }
  }
}
