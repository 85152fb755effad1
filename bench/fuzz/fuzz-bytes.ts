/**
 * The fuzzer's randomness (seeded, so a run is reproducible from its seed) and its byte-level
 * mutations of valid messages: bit flips, truncation, appended or overwritten bytes, a huge
 * protobuf length prefix spliced in, and a duplicated span.
 */
import { mulberry32 } from '../../src/common/mulberry32';

/** A seeded source of fuzz choices. */
export class FuzzRng {
  private readonly next: () => number;

  constructor(seed: number) {
    this.next = mulberry32(seed);
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.next() / 4294967296) * n);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() / 4294967296 < p;
  }

  /** One element of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** `n` random bytes. */
  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.next() & 0xff;
    return out;
  }

  /** A raw uint32. */
  u32(): number {
    return this.next();
  }
}

/** Varint encodings of lengths far beyond any message: 2^31-1, 2^32-1 and 2^63-ish. */
const HUGE_LENGTHS = [
  Buffer.from([0xff, 0xff, 0xff, 0xff, 0x07]),
  Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]),
  Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]),
];

type Mutation = (rng: FuzzRng, b: Buffer) => Buffer;

const MUTATIONS: Record<string, Mutation> = {
  bitflip: (rng, b) => {
    const out = Buffer.from(b);
    for (let k = 1 + rng.int(4); k > 0 && out.length > 0; k--) out[rng.int(out.length)] ^= 1 << rng.int(8);
    return out;
  },
  truncate: (rng, b) => b.subarray(0, rng.int(Math.max(1, b.length))),
  append: (rng, b) => Buffer.concat([b, rng.bytes(1 + rng.int(16))]),
  overwrite: (rng, b) => {
    const out = Buffer.from(b);
    const at = rng.int(Math.max(1, out.length));
    rng.bytes(1 + rng.int(8)).copy(out, at);
    return out;
  },
  'huge-length': (rng, b) => {
    const at = rng.int(Math.max(1, b.length));
    // a length-delimited tag (field 1..15) followed by a length no message can hold
    const tag = Buffer.from([((1 + rng.int(15)) << 3) | 2]);
    return Buffer.concat([b.subarray(0, at), tag, rng.pick(HUGE_LENGTHS), b.subarray(at)]);
  },
  duplicate: (rng, b) => {
    const from = rng.int(Math.max(1, b.length));
    const to = Math.min(b.length, from + 1 + rng.int(32));
    return Buffer.concat([b.subarray(0, to), b.subarray(from, to), b.subarray(to)]);
  },
};

/** Mutation names, for reports. */
export const MUTATION_NAMES = Object.keys(MUTATIONS);

/** `b` changed by one randomly chosen mutation; `how` names it. */
export function mutate(rng: FuzzRng, b: Buffer): { bytes: Buffer; how: string } {
  const how = rng.pick(MUTATION_NAMES);
  return { bytes: MUTATIONS[how](rng, b), how };
}
