/**
 * A straightforward BigInt transcription of the XXH64 spec (xxhash_spec.md), used only by tests
 * as an independent reference for the 32-bit-limb implementation in src/sharding/xxhash64.ts.
 */

const M64 = (1n << 64n) - 1n;
const P1 = 0x9e3779b185ebca87n;
const P2 = 0xc2b2ae3d27d4eb4fn;
const P3 = 0x165667b19e3779f9n;
const P4 = 0x85ebca77c2b2ae63n;
const P5 = 0x27d4eb2f165667c5n;

const rotl = (v: bigint, r: bigint): bigint => ((v << r) | (v >> (64n - r))) & M64;
const round = (acc: bigint, input: bigint): bigint => (rotl((acc + input * P2) & M64, 31n) * P1) & M64;
const merge = (acc: bigint, v: bigint): bigint => (((acc ^ round(0n, v)) * P1) + P4) & M64;

function u64le(d: Uint8Array, i: number): bigint {
  let v = 0n;
  for (let k = 7; k >= 0; k--) v = (v << 8n) | BigInt(d[i + k]);
  return v;
}

function u32le(d: Uint8Array, i: number): bigint {
  return BigInt(d[i]) | (BigInt(d[i + 1]) << 8n) | (BigInt(d[i + 2]) << 16n) | (BigInt(d[i + 3]) << 24n);
}

/** Reference XXH64 of `data` with a 64-bit `seed`. Slow; tests only. */
export function refXxh64(data: Uint8Array, seed: bigint): bigint {
  seed &= M64;
  const len = data.length;
  let p = 0;
  let h: bigint;
  if (len >= 32) {
    let v1 = (seed + P1 + P2) & M64;
    let v2 = (seed + P2) & M64;
    let v3 = seed;
    let v4 = (seed - P1) & M64;
    while (p + 32 <= len) {
      v1 = round(v1, u64le(data, p));
      v2 = round(v2, u64le(data, p + 8));
      v3 = round(v3, u64le(data, p + 16));
      v4 = round(v4, u64le(data, p + 24));
      p += 32;
    }
    h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & M64;
    h = merge(merge(merge(merge(h, v1), v2), v3), v4);
  } else {
    h = (seed + P5) & M64;
  }
  h = (h + BigInt(len)) & M64;
  for (; p + 8 <= len; p += 8) {
    h ^= round(0n, u64le(data, p));
    h = (rotl(h, 27n) * P1 + P4) & M64;
  }
  if (p + 4 <= len) {
    h ^= (u32le(data, p) * P1) & M64;
    h = (rotl(h, 23n) * P2 + P3) & M64;
    p += 4;
  }
  for (; p < len; p++) {
    h ^= (BigInt(data[p]) * P5) & M64;
    h = (rotl(h, 11n) * P1) & M64;
  }
  h ^= h >> 33n;
  h = (h * P2) & M64;
  h ^= h >> 29n;
  h = (h * P3) & M64;
  h ^= h >> 32n;
  return h;
}
