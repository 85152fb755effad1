import { expect } from 'chai';
import { ERROR_CODES } from '../../../src/common/errors';
import { Deduper } from '../../../src/sharding/dedup';
import { dedup } from '../../helpers/ids';
import { idAt, idsFrom, idsToBigInts } from '../../../src/wire/key-block';
import { Rng } from './rng';

/** Reference: first-occurrence order with a Map<bigint, index>. */
function refDedup(ids: Uint32Array): { unique: bigint[]; inverse: number[] } {
  const index = new Map<bigint, number>();
  const unique: bigint[] = [];
  const inverse = idsToBigInts(ids).map((id) => {
    let k = index.get(id);
    if (k === undefined) {
      k = unique.length;
      index.set(id, k);
      unique.push(id);
    }
    return k;
  });
  return { unique, inverse };
}

/** n ids drawn from a pool of `poolSize` ids, including ids that share lo or hi. */
function batch(rng: Rng, n: number, poolSize: number): Uint32Array {
  const pool = new Uint32Array(2 * poolSize);
  for (let p = 0; p < poolSize; p++) {
    pool[2 * p] = p % 3 === 0 ? 42 : rng.u32(); // same lo, different hi
    pool[2 * p + 1] = p % 5 === 0 ? 0 : rng.u32(); // hi = 0 (small ids)
  }
  const ids = new Uint32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const p = rng.int(poolSize);
    ids[2 * i] = pool[2 * p];
    ids[2 * i + 1] = pool[2 * p + 1];
  }
  return ids;
}

function expectReconstructs(ids: Uint32Array, unique: Uint32Array, inverse: Uint32Array): void {
  expect(inverse.length).to.equal(ids.length / 2);
  for (let i = 0; i < inverse.length; i++) {
    const k = inverse[i];
    if (unique[2 * k] !== ids[2 * i] || unique[2 * k + 1] !== ids[2 * i + 1]) {
      expect.fail(`id #${i} reconstructs as ${idAt(unique, k)}, expected ${idAt(ids, i)}`);
    }
  }
}

describe('sharding/dedup', () => {
  it('matches a Map<bigint> reference on random batches with many duplicates', () => {
    const rng = new Rng(41);
    for (const [n, pool] of [[1, 1], [10, 3], [1000, 50], [5000, 4000], [20000, 1000]]) {
      const ids = batch(rng, n, pool);
      const { unique, inverse } = dedup(ids);
      const ref = refDedup(ids);
      expect(idsToBigInts(unique), `n=${n}`).to.deep.equal(ref.unique);
      expect(Array.from(inverse), `n=${n}`).to.deep.equal(ref.inverse);
      expectReconstructs(ids, unique, inverse);
    }
  });

  it('keeps first-occurrence order', () => {
    const { unique, inverse } = dedup(idsFrom([7n, 2n ** 40n, 7n, 3n, 2n ** 40n, 2n ** 64n - 1n]));
    expect(idsToBigInts(unique)).to.deep.equal([7n, 2n ** 40n, 3n, 2n ** 64n - 1n]);
    expect(Array.from(inverse)).to.deep.equal([0, 1, 0, 2, 1, 3]);
  });

  it('handles empty input', () => {
    const { unique, inverse } = dedup(new Uint32Array(0));
    expect(unique.length).to.equal(0);
    expect(inverse.length).to.equal(0);
  });

  it('a reused Deduper gives correct results across big and small batches, never shrinking', () => {
    const rng = new Rng(42);
    const dd = new Deduper();
    const unique = new Uint32Array(2 * 30000), inverse = new Uint32Array(30000);
    let cap = 0;
    for (const n of [30000, 10, 0, 7000, 1, 30000, 3]) {
      const ids = batch(rng, n, Math.max(1, n >>> 2));
      const k = dd.dedupInto(ids, unique, inverse);
      const ref = refDedup(ids);
      expect(k, `n=${n}`).to.equal(ref.unique.length);
      expect(idsToBigInts(unique.subarray(0, 2 * k))).to.deep.equal(ref.unique);
      expect(Array.from(inverse.subarray(0, n))).to.deep.equal(ref.inverse);
      expect(dd.capacity).to.be.at.least(cap);
      cap = dd.capacity;
    }
    expect(cap).to.equal(65536); // smallest power of two ≥ 2 × 30000
  });

  it('dedups 1M ids quickly and exactly', () => {
    const rng = new Rng(43);
    const ids = batch(rng, 1_000_000, 200_000);
    const t0 = process.hrtime.bigint();
    const { unique, inverse } = dedup(ids);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    expectReconstructs(ids, unique, inverse);
    // Exact distinct count: an IdArray's bytes are packed little-endian u64s, so sort them as such.
    const sortedIn = new BigUint64Array(ids.buffer).slice().sort();
    const sortedOut = new BigUint64Array(unique.buffer, unique.byteOffset, unique.length / 2).slice().sort();
    let distinct = 0;
    for (let i = 0; i < sortedIn.length; i++) if (i === 0 || sortedIn[i] !== sortedIn[i - 1]) distinct++;
    expect(sortedOut.length).to.equal(distinct);
    for (let i = 1; i < sortedOut.length; i++) if (sortedOut[i] === sortedOut[i - 1]) expect.fail(`duplicate ${sortedOut[i]}`);
    expect(ms, 'generous bound; typically ~30 ms').to.be.below(2000);
  });

  it('rejects odd-length ids and short output buffers', () => {
    const dd = new Deduper();
    expect(() => dd.dedupInto(new Uint32Array(3), new Uint32Array(4), new Uint32Array(2))).to.throw(/odd length 3/).with.property('code', ERROR_CODES.BAD_IDS);
    expect(() => dd.dedupInto(idsFrom([1n, 2n]), new Uint32Array(3), new Uint32Array(2))).to.throw(/unique holds 3/);
    expect(() => dd.dedupInto(idsFrom([1n, 2n]), new Uint32Array(4), new Uint32Array(1))).to.throw(/inverse holds 1/);
  });
});
