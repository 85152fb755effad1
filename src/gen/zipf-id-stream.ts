/**
 * An endless stream of Zipf-distributed 64-bit ids over a vocabulary of up to 2^40 ids (10^9 by
 * default), generated on the fly: nothing is stored per id, so a billion-id workload costs no
 * memory and no disk. Used by `tessera gen --ids` and bench:memory.
 *
 * Rank k (1 = most frequent) comes from the O(1) rejection-inversion sampler (zipf.ts) and is
 * mapped to an id by a bijection, so distinct ranks are distinct ids and hot ids are spread over
 * the whole id space (and so over every shard-map bucket):
 *   lo = fmix32((k mod 2^32) ^ salt),  hi = floor(k / 2^32) ^ fmix32(lo ^ salt)
 * fmix32 is invertible on 32 bits, so lo gives back the low 32 bits of k and then hi the rest.
 */
import { fmix32 } from '../common/fmix32';
import { Xoshiro128 } from './rng';
import { ZipfSampler } from './zipf';

/** The vocabulary of the issue #6 workloads. */
export const BILLION = 1_000_000_000;

/** Options of a ZipfIdStream. */
export interface ZipfIdStreamOptions {
  /** distinct ids, an integer in [1, 2^40]; default 10^9 */
  vocab?: number;
  /** Zipf exponent > 0; default 1.05 */
  s?: number;
  /** seed of the stream and of the rank → id mapping; default 1 */
  seed?: number;
}

/**
 * Zipf ids, batch by batch.
 *
 * ```ts
 * const stream = new ZipfIdStream({ vocab: 1e9, s: 1.05, seed: 7 });
 * const ids = new Uint32Array(2 * 8192);
 * stream.fill(ids, 8192); // (lo, hi) pairs, duplicates included as drawn
 * ```
 */
export class ZipfIdStream {
  readonly vocab: number;
  readonly s: number;
  private readonly zipf: ZipfSampler;
  private readonly rng: Xoshiro128;
  private readonly salt: number;

  constructor(opts: ZipfIdStreamOptions = {}) {
    this.vocab = opts.vocab ?? BILLION;
    this.s = opts.s ?? 1.05;
    const seed = opts.seed ?? 1;
    this.zipf = new ZipfSampler(this.vocab, this.s);
    this.rng = new Xoshiro128(seed, 0x1d5);
    this.salt = fmix32((seed ^ 0x6a09e667) >>> 0);
  }

  /** Writes the id of rank `k` (1-based) as (lo, hi) at pair `i` of `out`. */
  idOfRank(k: number, out: Uint32Array, i: number): void {
    const low = k % 4294967296;
    const lo = fmix32((low ^ this.salt) >>> 0);
    out[2 * i] = lo;
    out[2 * i + 1] = (Math.floor(k / 4294967296) ^ fmix32((lo ^ this.salt) >>> 0)) >>> 0;
  }

  /** Draws one rank in [1, vocab]. */
  nextRank(): number {
    return this.zipf.sample(this.rng);
  }

  /** Fills pairs `[0, n)` of `out` with the next `n` ids of the stream. */
  fill(out: Uint32Array, n: number): void {
    for (let i = 0; i < n; i++) this.idOfRank(this.zipf.sample(this.rng), out, i);
  }
}
