import { mulberry32 } from '../../../src/common/mulberry32';

/** Seeded PRNG (mulberry32) so sharding tests are reproducible. */
export class Rng {
  /** Uniform uint32. */
  readonly u32: () => number;

  constructor(seed: number) {
    this.u32 = mulberry32(seed);
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.u32() / 4294967296) * n);
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }

  /** Uniform u64 as a BigInt. */
  u64(): bigint {
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
  }
}
