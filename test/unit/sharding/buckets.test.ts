import { expect } from 'chai';
import { DEFAULT_NUM_BUCKETS, bucketHash, bucketOf, bucketsOf } from '../../../src/sharding/buckets';
import { idsFrom } from '../../../src/wire/key-block';
import { Rng } from './rng';

/** Plain murmur3_x86_32 over bytes (with tail), the reference for bucketHash. */
function refMurmur3(data: Uint8Array, seed: number): number {
  const c1 = 0xcc9e2d51, c2 = 0x1b873593;
  let h = seed | 0;
  const nBlocks = data.length >>> 2;
  const mixK = (k: number): number => Math.imul(((v) => (v << 15) | (v >>> 17))(Math.imul(k, c1)), c2);
  for (let i = 0; i < nBlocks; i++) {
    const p = 4 * i;
    h ^= mixK(data[p] | (data[p + 1] << 8) | (data[p + 2] << 16) | (data[p + 3] << 24));
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  const tail = nBlocks * 4;
  const rem = data.length & 3;
  if (rem >= 3) k ^= data[tail + 2] << 16;
  if (rem >= 2) k ^= data[tail + 1] << 8;
  if (rem >= 1) h ^= mixK(k ^ data[tail]);
  h ^= data.length;
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35); h ^= h >>> 16;
  return h >>> 0;
}

/** Counts per bucket for ids (lo, hi) = idAt(i) for i in [0, n). */
function histogram(n: number, numBuckets: number, idAt: (i: number) => [number, number]): Uint32Array {
  const counts = new Uint32Array(numBuckets);
  for (let i = 0; i < n; i++) {
    const [lo, hi] = idAt(i);
    counts[bucketOf(lo, hi, numBuckets)]++;
  }
  return counts;
}

/** Largest |count - mean| / mean over all buckets. */
function maxRelDeviation(counts: Uint32Array): number {
  const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
  return counts.reduce((m, c) => Math.max(m, Math.abs(c - mean) / mean), 0);
}

/** Pearson chi-square statistic against the uniform distribution. */
function chiSquare(counts: Uint32Array): number {
  const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
  return counts.reduce((s, c) => s + ((c - mean) * (c - mean)) / mean, 0);
}

describe('sharding/buckets', () => {
  it('the murmur3 reference reproduces published murmur3_x86_32 vectors', () => {
    const utf8 = (s: string): Uint8Array => Buffer.from(s, 'utf8');
    expect(refMurmur3(utf8(''), 0)).to.equal(0);
    expect(refMurmur3(utf8(''), 1)).to.equal(0x514e28b7);
    expect(refMurmur3(utf8('hello'), 0)).to.equal(0x248bfa47);
    expect(refMurmur3(utf8('The quick brown fox jumps over the lazy dog'), 0)).to.equal(0x2e4ff723);
  });

  it('bucketHash is murmur3_x86_32 (seed 0) of the id\'s 8 little-endian bytes', () => {
    const rng = new Rng(21);
    for (let i = 0; i < 2000; i++) {
      const lo = i < 100 ? i : rng.u32(), hi = i < 100 ? 0 : rng.u32();
      const bytes = new Uint8Array(new Uint32Array([lo, hi]).buffer);
      expect(bucketHash(lo, hi), `(${lo}, ${hi})`).to.equal(refMurmur3(bytes, 0));
    }
  });

  it('pins bucketOf for a few ids (a change here re-shards every table)', () => {
    expect(DEFAULT_NUM_BUCKETS).to.equal(4096);
    const pinned: [number, number, number, number][] = [
      // lo, hi, bucket of 4096, bucket of 7
      [0, 0, 1592, 2],
      [1, 0, 1328, 2],
      [0, 1, 941, 1],
      [0xffffffff, 0xffffffff, 1575, 2],
      [0x66de5fe4, 0x34268e61, 601, 1], // hashFeature('C1', '68fd1e64')
    ];
    for (const [lo, hi, b4096, b7] of pinned) {
      expect(bucketOf(lo, hi, 4096), `(${lo}, ${hi})`).to.equal(b4096);
      expect(bucketOf(lo, hi, 7), `(${lo}, ${hi}) of 7`).to.equal(b7);
    }
  });

  it('stays in [0, numBuckets) for any bucket count, and is 0 for one bucket', () => {
    const rng = new Rng(22);
    for (const n of [1, 2, 7, 1000, 4096, 65536]) {
      for (let i = 0; i < 2000; i++) {
        const b = bucketOf(rng.u32(), rng.u32(), n);
        expect(Number.isInteger(b) && b >= 0 && b < n, `bucket ${b} of ${n}`).to.equal(true);
      }
    }
    expect(bucketOf(0xffffffff, 0xffffffff, 1)).to.equal(0);
  });

  it('bucketsOf equals bucketOf per id, and rejects a short out', () => {
    const ids = idsFrom([0n, 1n, 2n ** 32n, 2n ** 64n - 1n, 123456789012345n]);
    const out = new Uint32Array(5);
    bucketsOf(ids, 4096, out);
    for (let i = 0; i < 5; i++) expect(out[i]).to.equal(bucketOf(ids[2 * i], ids[2 * i + 1], 4096));
    expect(() => bucketsOf(ids, 4096, new Uint32Array(4))).to.throw(/out holds 4 buckets, need 5/);
  });

  // Deviation from the brief: "1M ids, every bucket within ±15%" cannot hold for any hash that
  // behaves randomly. 1M / 4096 = 244 per bucket, σ ≈ 15.6, so ±15% is ±2.3σ and ~80 of 4096
  // buckets fall outside it by chance. At 1M we bound every bucket by ±6σ (±38%) and check the
  // chi-square statistic; the ±15% bound is checked at 8M ids (mean 1953, ±15% = ±6.6σ).
  it('spreads 1M sequential ids over 4096 buckets like a uniform hash (every bucket within ±6σ)', () => {
    const counts = histogram(1_000_000, 4096, (i) => [i, 0]);
    const mean = 1_000_000 / 4096;
    expect(maxRelDeviation(counts)).to.be.below((6 * Math.sqrt(mean)) / mean);
    const df = 4095;
    expect(Math.abs(chiSquare(counts) - df)).to.be.below(5 * Math.sqrt(2 * df));
  });

  it('keeps every bucket within ±15% of the mean for 8M sequential ids', function () {
    this.timeout(20000);
    expect(maxRelDeviation(histogram(8_000_000, 4096, (i) => [i, 0]))).to.be.below(0.15);
  });

  it('spreads strided ids, where id % 4096 would use one bucket', () => {
    const strides: [string, (i: number) => [number, number]][] = [
      ['k × 4096', (i) => [(i * 4096) >>> 0, Math.floor((i * 4096) / 2 ** 32)]],
      ['k × 2^32 (hi only)', (i) => [0, i]],
      ['k × 2^20 + 7', (i) => [((i << 20) + 7) >>> 0, Math.floor(i / 4096)]],
    ];
    const mean = 1_000_000 / 4096;
    for (const [name, idAt] of strides) {
      // Every id of the pattern has the same value mod 4096 (4096 divides 2^32, so that is lo % 4096).
      for (let i = 1; i < 10; i++) expect(idAt(i)[0] % 4096, name).to.equal(idAt(0)[0] % 4096);
      expect(maxRelDeviation(histogram(1_000_000, 4096, idAt)), name).to.be.below((6 * Math.sqrt(mean)) / mean);
    }
  });

  it('balances 1M sequential ids across PS-sized groups of buckets within 1%', () => {
    const counts = histogram(1_000_000, 4096, (i) => [i, 0]);
    for (const numPs of [3, 4, 7]) {
      const perPs = new Float64Array(numPs);
      counts.forEach((c, b) => (perPs[b % numPs] += c));
      const fair = 1_000_000 / numPs;
      for (const load of perPs) expect(Math.abs(load - fair) / fair, `${numPs} PS`).to.be.below(0.01);
    }
  });
});
