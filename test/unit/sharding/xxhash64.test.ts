import { expect } from 'chai';
import { xxh64, xxh64BigInt, xxh64Range, xxh64Seeded } from '../../../src/sharding/xxhash64';
import { Rng } from './rng';
import { refXxh64 } from './xxh64-reference';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Bytes (31·i + 7) mod 256, i = 0..n-1: the input of the libxxhash vectors below. */
function pattern(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + 7) & 0xff;
  return out;
}

describe('sharding/xxhash64', () => {
  // Published XXH64 values (xxHash README / python-xxhash docs), seed 0.
  const published: [string, bigint][] = [
    ['', 0xef46db3751d8e999n],
    ['a', 0xd24ec4f1a98c6e5bn],
    ['abc', 0x44bc2cf5ad770999n],
    ['Nobody inspects the spammish repetition', 0xfbcea83c8a378bf1n], // 39 bytes: 4-lane loop
  ];

  it('the BigInt reference reproduces the published vectors', () => {
    for (const [s, h] of published) expect(refXxh64(utf8(s), 0n), JSON.stringify(s)).to.equal(h);
  });

  it('matches the published vectors', () => {
    for (const [s, h] of published) expect(xxh64BigInt(utf8(s), 0n), JSON.stringify(s)).to.equal(h);
  });

  // Computed with libxxhash 0.8.1 XXH64() (an independent C implementation).
  const libxxhash: [number, bigint, bigint][] = [
    [100, 0n, 0xefa0ad2d3e70c151n],
    [100, 0x9e3779b185ebca87n, 0xe10cfef3a9a0a5c5n],
    [32, 0n, 0x8d57d6a4671cc43dn],
    [31, 1n, 0xd7ac4f4bea4e460an],
    [64, 0xffffffffffffffffn, 0x04573ca9335266c2n],
    [1000, 12345n, 0xcbd42ae414e71a03n],
    [3, 0x7e55e7an, 0x7be4a626f41f36e2n],
  ];

  it('matches libxxhash on long inputs and nonzero seeds, as does the reference', () => {
    for (const [n, seed, h] of libxxhash) {
      expect(xxh64BigInt(pattern(n), seed), `len ${n} seed ${seed}`).to.equal(h);
      expect(refXxh64(pattern(n), seed), `ref len ${n} seed ${seed}`).to.equal(h);
    }
    expect(xxh64BigInt(utf8('abc'), 1n)).to.equal(0xbea9ca8199328908n);
  });

  it('matches the BigInt reference on random inputs of every length 0..100 with random seeds', () => {
    const rng = new Rng(1);
    for (let len = 0; len <= 100; len++) {
      for (let rep = 0; rep < 4; rep++) {
        const data = rng.bytes(len);
        const seed = rep === 0 ? 0n : rng.u64();
        expect(xxh64BigInt(data, seed), `len ${len} seed ${seed}`).to.equal(refXxh64(data, seed));
      }
    }
  });

  it('matches the reference on longer random inputs (many stripes plus every tail shape)', () => {
    const rng = new Rng(2);
    for (let rep = 0; rep < 50; rep++) {
      const data = rng.bytes(101 + rng.int(900));
      const seed = rng.u64();
      expect(xxh64BigInt(data, seed)).to.equal(refXxh64(data, seed));
    }
  });

  it('xxh64 takes the seed as (lo, hi) and writes (lo, hi) at outOff only', () => {
    const data = pattern(45);
    const seed = 0x0123456789abcdefn;
    const out = new Uint32Array([7, 7, 7, 7, 7]);
    xxh64(data, 0x89abcdef, 0x01234567, out, 2);
    const want = refXxh64(data, seed);
    expect(out[2]).to.equal(Number(want & 0xffffffffn));
    expect(out[3]).to.equal(Number(want >> 32n));
    expect([out[0], out[1], out[4]]).to.deep.equal([7, 7, 7]);
  });

  it('xxh64Range hashes a sub-range exactly like a copy of it', () => {
    const rng = new Rng(3);
    const buf = rng.bytes(200);
    const out = new Uint32Array(4);
    for (const [start, end] of [[0, 0], [5, 5], [3, 40], [17, 200], [100, 131]]) {
      xxh64Range(buf, start, end, 42, 0, out, 0);
      xxh64(buf.slice(start, end), 42, 0, out, 2);
      expect([out[0], out[1]], `[${start}, ${end})`).to.deep.equal([out[2], out[3]]);
    }
  });

  it('xxh64Seeded reads the seed from a typed array and agrees with xxh64Range', () => {
    const rng = new Rng(4);
    const out = new Uint32Array(4);
    for (let rep = 0; rep < 100; rep++) {
      const buf = rng.bytes(rng.int(120));
      const start = rng.int(buf.length + 1), end = start + rng.int(buf.length - start + 1);
      const seed = new Uint32Array([9, rng.u32(), rng.u32()]);
      xxh64Seeded(buf, start, end, seed, 1, out, 0);
      xxh64Range(buf, start, end, seed[1], seed[2], out, 2);
      expect([out[0], out[1]]).to.deep.equal([out[2], out[3]]);
      const want = refXxh64(buf.slice(start, end), (BigInt(seed[2]) << 32n) | BigInt(seed[1]));
      expect((BigInt(out[1]) << 32n) | BigInt(out[0])).to.equal(want);
    }
  });

  it('xxh64BigInt reduces the seed mod 2^64', () => {
    const data = utf8('seed');
    expect(xxh64BigInt(data, -1n)).to.equal(refXxh64(data, 0xffffffffffffffffn));
    expect(xxh64BigInt(data, 1n << 64n)).to.equal(refXxh64(data, 0n));
  });
});
