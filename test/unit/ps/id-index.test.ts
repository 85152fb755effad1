import { expect } from 'chai';
import { hashId, IdIndex } from '../../../src/ps/store';

/** xorshift32: a tiny deterministic generator for test ids. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>>= 0);
  };
}

const key = (lo: number, hi: number): bigint => (BigInt(hi) << 32n) | BigInt(lo);

describe('IdIndex', () => {
  it('inserts, finds and reports size, capacity and bytes', () => {
    const idx = new IdIndex();
    expect(idx.capacity).to.equal(16);
    expect(idx.find(1, 2)).to.equal(-1);
    expect(idx.findOrInsert(1, 2, 0)).to.equal(0);
    expect(idx.findOrInsert(1, 2, 1)).to.equal(0); // existing row, not the offered one
    expect(idx.findOrInsert(2, 1, 1)).to.equal(1); // halves swapped: a different id
    expect(idx.findOrInsert(0, 0, 2)).to.equal(2); // id 0 is a valid key
    expect(idx.findOrInsert(0xffffffff, 0xffffffff, 3)).to.equal(3);
    expect([idx.find(1, 2), idx.find(2, 1), idx.find(0, 0), idx.find(0xffffffff, 0xffffffff)]).to.deep.equal([0, 1, 2, 3]);
    expect(idx.size).to.equal(4);
    expect(idx.bytes()).to.equal(16 * 12);
  });

  it('grows x2 keeping load <= 0.7 and every entry', () => {
    const idx = new IdIndex();
    for (let i = 0; i < 1000; i++) {
      idx.findOrInsert(i, 7, i);
      expect(idx.size / idx.capacity).to.be.at.most(0.7);
    }
    expect(idx.capacity).to.equal(2048);
    for (let i = 0; i < 1000; i++) expect(idx.find(i, 7)).to.equal(i);
    expect(new IdIndex(1000).capacity).to.equal(2048); // pre-sized: no rehash needed for 1000
  });

  it('matches a Map<bigint> reference under random insert/remove churn (backward shift)', () => {
    const next = rng(42);
    const ref = new Map<bigint, number>();
    const idx = new IdIndex();
    // A small id universe forces long probe runs, wrap-around and many removals of run members.
    const universe = Array.from({ length: 3000 }, () => [next(), next() & 3] as const);
    let nextRow = 0;
    for (let op = 0; op < 200_000; op++) {
      const [lo, hi] = universe[next() % universe.length];
      const k = key(lo, hi);
      if (next() % 3 === 0) {
        expect(idx.remove(lo, hi)).to.equal(ref.get(k) ?? -1);
        ref.delete(k);
      } else {
        const r = idx.findOrInsert(lo, hi, nextRow);
        if (!ref.has(k)) ref.set(k, nextRow++);
        expect(r).to.equal(ref.get(k));
      }
      if (op % 20_000 === 0) expect(idx.size).to.equal(ref.size);
    }
    expect(idx.size).to.equal(ref.size);
    for (const [lo, hi] of universe) expect(idx.find(lo, hi)).to.equal(ref.get(key(lo, hi)) ?? -1);
    const seen = new Map<bigint, number>();
    idx.forEach((lo, hi, row) => seen.set(key(lo, hi), row));
    expect(seen).to.deep.equal(ref);
  });

  it('backward shift across the wrap-around of a full probe run', () => {
    // Ids whose home slot is the last slot of a 16-slot table form a run that wraps to slot 0.
    const idx = new IdIndex();
    const ids: Array<[number, number]> = [];
    for (let lo = 0; ids.length < 6; lo++) if ((hashId(lo, 0) & 15) === 15) ids.push([lo, 0]);
    ids.forEach(([lo, hi], i) => idx.findOrInsert(lo, hi, i));
    expect(idx.remove(ids[0][0], ids[0][1])).to.equal(0);
    for (let i = 1; i < ids.length; i++) expect(idx.find(ids[i][0], ids[i][1])).to.equal(i);
    expect(idx.remove(ids[3][0], ids[3][1])).to.equal(3);
    expect(idx.find(ids[3][0], ids[3][1])).to.equal(-1);
    for (const i of [1, 2, 4, 5]) expect(idx.find(ids[i][0], ids[i][1])).to.equal(i);
    expect(idx.remove(ids[3][0], ids[3][1])).to.equal(-1);
    expect(idx.size).to.equal(4);
  });
});
