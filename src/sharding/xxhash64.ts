/**
 * xxHash64 (Yann Collet's XXH64, spec: xxhash_spec.md "XXH64 Algorithm Description") computed
 * with 32-bit limb arithmetic, so the hot path never creates a BigInt.
 *
 * Every 64-bit value is a pair of 32-bit limbs (lo, hi). Output is byte-for-byte the reference
 * `XXH64()` (libxxhash) result.
 */

/*
 * Why a register file: V8 boxes a number outside the small-integer range (a HeapNumber) whenever
 * it is stored in a module `let`, passed to or returned from a call that is not inlined. Hash
 * limbs are full 32-bit values, so they live in Int32Arrays (stored unboxed) and helpers take only
 * small slot indices. All limbs are int32 bit patterns; they become uint32 when written to `out`.
 */

/** The primes from the spec as int32 (lo, hi) halves. */
const P1L = 0x85ebca87 | 0, P1H = 0x9e3779b1 | 0; // PRIME64_1 = 0x9E3779B185EBCA87
const P2L = 0x27d4eb4f | 0, P2H = 0xc2b2ae3d | 0; // PRIME64_2 = 0xC2B2AE3D27D4EB4F
const P3L = 0x9e3779f9 | 0, P3H = 0x165667b1 | 0; // PRIME64_3 = 0x165667B19E3779F9
const P4L = 0xc2b2ae63 | 0, P4H = 0x85ebca77 | 0; // PRIME64_4 = 0x85EBCA77C2B2AE63
const P5L = 0x165667c5 | 0, P5H = 0x27d4eb2f | 0; // PRIME64_5 = 0x27D4EB2F165667C5

/** The primes as (lo, hi) pairs for the register-file helpers, plus 2^64 - PRIME64_1. */
const K = new Int32Array([P1L, P1H, P2L, P2H, P3L, P3H, P4L, P4H, P5L, P5H, 0x7a143579, 0x61c8864e]);
const P1 = 0, P2 = 2, P4 = 6, P5 = 8, NEG_P1 = 10; // offsets into K (PRIME64_3 at 4 is only used in finish)

/** Hash state: four lane accumulators, the running hash and a temporary, each a (lo, hi) pair. */
const S = new Int32Array(12);
const V1 = 0, V2 = 2, V3 = 4, V4 = 6, H = 8, T = 10;

/** 2^-32: scales the top half of a 64-bit product down to a 32-bit integer (exact power of two). */
const INV_2_32 = 2.3283064365386963e-10;

/** S[i] = S[i] × K[k] mod 2^64. */
function mulK(i: number, k: number): void {
  const aLo = S[i], aHi = S[i + 1], bLo = K[k], bHi = K[k + 1];
  const lo = Math.imul(aLo, bLo);
  // High 32 bits of the unsigned product aLo × bLo. The double product is off by at most 2^11
  // (2^64 × 2^-53) and the subtraction adds at most 2^11 more, so after scaling by 2^-32 the
  // value is within 2^-20 of the exact integer; + 0.5 then | 0 rounds it (| 0 wraps mod 2^32,
  // which is all the high limb needs). Much cheaper than a product of 16-bit pieces.
  const carry = (((aLo >>> 0) * (bLo >>> 0) - (lo >>> 0)) * INV_2_32 + 0.5) | 0;
  S[i] = lo;
  // The cross terms only reach the high limb; the sum is exact (< 2^34) and the store wraps it.
  S[i + 1] = carry + Math.imul(aHi, bLo) + Math.imul(aLo, bHi);
}

/** S[i] = S[i] + (lo, hi) mod 2^64, for a pair given by array and offset. */
function addPair(i: number, src: Int32Array, j: number): void {
  const lo = (S[i] >>> 0) + (src[j] >>> 0);
  S[i] = lo; // the Int32Array store keeps the low 32 bits
  S[i + 1] = S[i + 1] + src[j + 1] + (lo > 0xffffffff ? 1 : 0);
}

/** S[i] = rotl64(S[i], r) for 0 < r < 32 (all rotations XXH64 uses). */
function rotl(i: number, r: number): void {
  const lo = S[i], hi = S[i + 1];
  S[i] = (lo << r) | (hi >>> (32 - r));
  S[i + 1] = (hi << r) | (lo >>> (32 - r));
}

/** S[i] = XXH64_round(S[i], u64 at data[p]) = rotl(S[i] + input × P2, 31) × P1. */
function roundAt(i: number, data: Uint8Array, p: number): void {
  S[T] = data[p] | (data[p + 1] << 8) | (data[p + 2] << 16) | (data[p + 3] << 24);
  S[T + 1] = data[p + 4] | (data[p + 5] << 8) | (data[p + 6] << 16) | (data[p + 7] << 24);
  mulK(T, P2);
  addPair(i, S, T);
  rotl(i, 31);
  mulK(i, P1);
}

/** S[H] = XXH64_mergeRound(S[H], S[v]) = (h ^ round(0, v)) × P1 + P4. */
function mergeRound(v: number): void {
  S[T] = S[v];
  S[T + 1] = S[v + 1];
  mulK(T, P2); // T = round(0, v) = rotl(v × P2, 31) × P1
  rotl(T, 31);
  mulK(T, P1);
  S[H] ^= S[T];
  S[H + 1] ^= S[T + 1];
  mulK(H, P1);
  addPair(H, K, P4);
}

/** Sets the four lane accumulators from the seed in S[H] (inputs of 32 bytes or more). */
function initLanes(): void {
  for (let v = V1; v <= V4; v += 2) {
    S[v] = S[H];
    S[v + 1] = S[H + 1];
  }
  addPair(V1, K, P1);
  addPair(V1, K, P2);
  addPair(V2, K, P2);
  addPair(V4, K, NEG_P1);
}

/** Runs the 4-lane loop over every whole 32-byte stripe from p; returns the first unread byte. */
function stripes(data: Uint8Array, p: number, end: number): number {
  for (; p + 32 <= end; p += 32) {
    // Lane v (V1..V4 = 0, 2, 4, 6) reads bytes [p + 4v, p + 4v + 8). One call site, so V8
    // inlines roundAt once instead of running out of inlining budget on four copies.
    for (let v = V1; v <= V4; v += 2) roundAt(v, data, p + 4 * v);
  }
  return p;
}

/** S[H] += rotl(S[v], r). */
function addRotatedLane(v: number, r: number): void {
  S[T] = S[v];
  S[T + 1] = S[v + 1];
  rotl(T, r);
  addPair(H, S, T);
}

/** Folds the four lanes into S[H]. */
function convergeLanes(): void {
  S[H] = 0;
  S[H + 1] = 0;
  addRotatedLane(V1, 1);
  addRotatedLane(V2, 7);
  addRotatedLane(V3, 12);
  addRotatedLane(V4, 18);
  for (let v = V1; v <= V4; v += 2) mergeRound(v);
}

// The tail and the final mix run once per hash, so for short inputs (the common case: feature
// values are a few bytes) they dominate. They use plain int32 locals and inline arithmetic,
// about twice as fast as going through the register file.

/** High 32 bits (as int32) of the unsigned product a × b; see mulK for why rounding is exact. */
function mulHi(a: number, b: number): number {
  return (((a >>> 0) * (b >>> 0) - (Math.imul(a, b) >>> 0)) * INV_2_32 + 0.5) | 0;
}

/**
 * Consumes data[p, end) (< 32 bytes: 8-byte words, one 4-byte word, single bytes) into the hash
 * in S[H], applies the avalanche, and writes (lo, hi) to out. Each "x = x × P" below is
 * lo' = imul(lo, PL); hi' = mulHi(lo, PL) + imul(hi, PL) + imul(lo, PH) (mod 2^32).
 */
function finish(data: Uint8Array, p: number, end: number, out: Uint32Array, outOff: number): void {
  let hLo = S[H], hHi = S[H + 1];
  let kLo = 0, kHi = 0, t = 0;
  for (; p + 8 <= end; p += 8) {
    kLo = data[p] | (data[p + 1] << 8) | (data[p + 2] << 16) | (data[p + 3] << 24);
    kHi = data[p + 4] | (data[p + 5] << 8) | (data[p + 6] << 16) | (data[p + 7] << 24);
    // k = round(0, k) = rotl(k × P2, 31) × P1
    t = Math.imul(kLo, P2L); kHi = (mulHi(kLo, P2L) + Math.imul(kHi, P2L) + Math.imul(kLo, P2H)) | 0; kLo = t;
    t = (kLo << 31) | (kHi >>> 1); kHi = (kHi << 31) | (kLo >>> 1); kLo = t;
    t = Math.imul(kLo, P1L); kHi = (mulHi(kLo, P1L) + Math.imul(kHi, P1L) + Math.imul(kLo, P1H)) | 0; kLo = t;
    // h = rotl(h ^ k, 27) × P1 + P4
    hLo ^= kLo; hHi ^= kHi;
    t = (hLo << 27) | (hHi >>> 5); hHi = (hHi << 27) | (hLo >>> 5); hLo = t;
    t = Math.imul(hLo, P1L); hHi = (mulHi(hLo, P1L) + Math.imul(hHi, P1L) + Math.imul(hLo, P1H)) | 0; hLo = t;
    t = (hLo >>> 0) + (P4L >>> 0); hHi = (hHi + P4H + (t > 0xffffffff ? 1 : 0)) | 0; hLo = t | 0;
  }
  if (p + 4 <= end) {
    // h = rotl(h ^ (u32 × P1), 23) × P2 + P3
    kLo = data[p] | (data[p + 1] << 8) | (data[p + 2] << 16) | (data[p + 3] << 24);
    hLo ^= Math.imul(kLo, P1L); hHi ^= (mulHi(kLo, P1L) + Math.imul(kLo, P1H)) | 0;
    t = (hLo << 23) | (hHi >>> 9); hHi = (hHi << 23) | (hLo >>> 9); hLo = t;
    t = Math.imul(hLo, P2L); hHi = (mulHi(hLo, P2L) + Math.imul(hHi, P2L) + Math.imul(hLo, P2H)) | 0; hLo = t;
    t = (hLo >>> 0) + (P3L >>> 0); hHi = (hHi + P3H + (t > 0xffffffff ? 1 : 0)) | 0; hLo = t | 0;
    p += 4;
  }
  for (; p < end; p++) {
    // h = rotl(h ^ (byte × P5), 11) × P1
    kLo = data[p];
    hLo ^= Math.imul(kLo, P5L); hHi ^= (mulHi(kLo, P5L) + Math.imul(kLo, P5H)) | 0;
    t = (hLo << 11) | (hHi >>> 21); hHi = (hHi << 11) | (hLo >>> 21); hLo = t;
    t = Math.imul(hLo, P1L); hHi = (mulHi(hLo, P1L) + Math.imul(hHi, P1L) + Math.imul(hLo, P1H)) | 0; hLo = t;
  }
  // Avalanche: h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32.
  hLo ^= hHi >>> 1;
  t = Math.imul(hLo, P2L); hHi = (mulHi(hLo, P2L) + Math.imul(hHi, P2L) + Math.imul(hLo, P2H)) | 0; hLo = t;
  hLo ^= (hLo >>> 29) | (hHi << 3); hHi ^= hHi >>> 29;
  t = Math.imul(hLo, P3L); hHi = (mulHi(hLo, P3L) + Math.imul(hHi, P3L) + Math.imul(hLo, P3H)) | 0; hLo = t;
  out[outOff] = hLo ^ hHi;
  out[outOff + 1] = hHi;
}

/**
 * Hashes data[start, end) with the seed already in S[H] and writes (lo, hi) to out. Split into
 * small steps so that V8 optimizes each with its helpers inlined (one big function exceeds the
 * inlining budget, and every non-inlined helper call costs more than the arithmetic).
 */
function hashCore(data: Uint8Array, start: number, end: number, out: Uint32Array, outOff: number): void {
  const len = end - start;
  let p = start;
  if (len >= 32) {
    initLanes();
    p = stripes(data, p, end);
    convergeLanes();
  } else {
    addPair(H, K, P5);
  }
  S[T] = len; // h += total length; inputs are < 2^53 bytes, so the high limb is len / 2^32
  S[T + 1] = len / 4294967296;
  addPair(H, S, T);
  finish(data, p, end, out, outOff);
}

/**
 * XXH64 of `data[start, end)` with the seed read from `seed[seedOff]` (lo), `seed[seedOff + 1]`
 * (hi); writes (lo, hi) of the hash into `out[outOff]`, `out[outOff + 1]`. The fully
 * allocation-free form: passing 32-bit seeds as plain numbers can box them (see above), so hot
 * callers keep their seed in a typed array. Bounds are trusted: this is the hot path.
 */
export function xxh64Seeded(
  data: Uint8Array, start: number, end: number,
  seed: Uint32Array | Int32Array, seedOff: number, out: Uint32Array, outOff: number,
): void {
  S[H] = seed[seedOff];
  S[H + 1] = seed[seedOff + 1];
  hashCore(data, start, end, out, outOff);
}

/**
 * XXH64 of `data[start, end)`; writes the hash as (lo, hi) into `out[outOff]`, `out[outOff + 1]`.
 * For callers that hash part of a reused scratch buffer (a `subarray` view per call would
 * allocate). Bounds are trusted: this is the hot path.
 *
 * ```ts
 * const h = new Uint32Array(2);
 * xxh64Range(scratch, 0, written, seedLo, seedHi, h, 0);
 * ```
 */
export function xxh64Range(
  data: Uint8Array, start: number, end: number,
  seedLo: number, seedHi: number, out: Uint32Array, outOff: number,
): void {
  S[H] = seedLo;
  S[H + 1] = seedHi;
  hashCore(data, start, end, out, outOff);
}

/**
 * XXH64 of all of `data` with the 64-bit seed (seedLo, seedHi); writes (lo, hi) of the hash into
 * `out[outOff]`, `out[outOff + 1]`. Creates no objects; seeds of 2^30 or more may still be boxed
 * by V8 when passed as arguments, so per-value loops should prefer {@link xxh64Seeded}.
 *
 * ```ts
 * const h = new Uint32Array(2);
 * xxh64(new TextEncoder().encode('abc'), 0, 0, h, 0); // h = [0xad770999, 0x44bc2cf5]
 * ```
 */
export function xxh64(data: Uint8Array, seedLo: number, seedHi: number, out: Uint32Array, outOff: number): void {
  xxh64Range(data, 0, data.length, seedLo, seedHi, out, outOff);
}

const bigOut = new Uint32Array(2);

/**
 * XXH64 as a BigInt (tests, tools, config; not for per-id hot paths). `seed` is taken mod 2^64.
 *
 * ```ts
 * xxh64BigInt(new Uint8Array(0), 0n); // 0xef46db3751d8e999n
 * ```
 */
export function xxh64BigInt(data: Uint8Array, seed: bigint): bigint {
  const s = BigInt.asUintN(64, seed);
  xxh64(data, Number(s & 0xffffffffn), Number(s >> 32n), bigOut, 0);
  return (BigInt(bigOut[1]) << 32n) | BigInt(bigOut[0]);
}
