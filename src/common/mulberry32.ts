/**
 * mulberry32: a tiny seeded 32-bit generator for reproducible tests and benchmark workloads
 * (never for anything that must be unpredictable).
 */

/** Returns a generator of uniform uint32 values for `seed`. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Returns a generator of uniform doubles in [0, 1) for `seed`. */
export function mulberry32Unit(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() / 4294967296;
}
