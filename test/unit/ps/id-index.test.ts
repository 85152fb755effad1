import { expect } from 'chai';
import {
  capacityFor, hashId, IdIndex, IdIndexBase, ID_INDEX_FAST_GROWTH_BELOW, ID_INDEX_MAX_CAPACITY, ID_INDEX_MAX_LOAD, nextCapacity,
} from '../../../src/ps/store/id-index';
import { RowIds, TaggedIdIndex } from '../../../src/ps/store/tagged-id-index';

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

/** The row → id map a table keeps in its slot metadata; rows are assigned by the tests. */
class TestRowIds implements RowIds {
  private readonly ids: number[] = [];
  set(row: number, lo: number, hi: number): void {
    this.ids[2 * row] = lo;
    this.ids[2 * row + 1] = hi;
  }
  holds(row: number, lo: number, hi: number): boolean {
    return this.ids[2 * row] === lo && this.ids[2 * row + 1] === hi;
  }
  idOf(row: number): [number, number] {
    return [this.ids[2 * row], this.ids[2 * row + 1]];
  }
}

/** An index of either kind, plus what a table does around it: record each new row's id. */
class Harness {
  readonly rowIds = new TestRowIds();
  readonly index: IdIndexBase;
  constructor(readonly tagged: boolean, expected = 0) {
    this.index = tagged ? new TaggedIdIndex(expected, this.rowIds) : new IdIndex(expected);
  }
  findOrInsert(lo: number, hi: number, nextRow: number): number {
    const r = this.index.findOrInsert(lo, hi, nextRow);
    if (r === nextRow) this.rowIds.set(r, lo, hi);
    return r;
  }
}

/** Ids `(lo, 0)` whose home slot in a `cap`-slot index is `slot`. */
function idsWithHome(cap: number, slot: number, count: number): Array<[number, number]> {
  const ids: Array<[number, number]> = [];
  for (let lo = 0; ids.length < count; lo++) if (Math.floor(hashId(lo, 0) * (cap / 2 ** 32)) === slot) ids.push([lo, 0]);
  return ids;
}

/** Pairs of distinct ids with the same 32-bit hash (a birthday search over random ids). */
function hashCollisions(count: number): Array<[[number, number], [number, number]]> {
  const next = rng(7);
  const seen = new Map<number, [number, number]>();
  const pairs: Array<[[number, number], [number, number]]> = [];
  while (pairs.length < count) {
    const id: [number, number] = [next(), next()];
    const h = hashId(id[0], id[1]);
    const other = seen.get(h);
    if (other && (other[0] !== id[0] || other[1] !== id[1])) pairs.push([other, id]);
    else seen.set(h, id);
  }
  return pairs;
}

for (const tagged of [false, true]) {
  describe(tagged ? 'TaggedIdIndex' : 'IdIndex', () => {
    const slotBytes = tagged ? 8 : 12;

    it('inserts, finds and reports size, capacity and bytes; ids 0 and 2^64 - 1 are keys', () => {
      const h = new Harness(tagged);
      const idx = h.index;
      expect(idx.capacity).to.equal(16);
      expect(idx.find(1, 2)).to.equal(-1);
      expect(h.findOrInsert(1, 2, 0)).to.equal(0);
      expect(h.findOrInsert(1, 2, 1)).to.equal(0); // existing row, not the offered one
      expect(h.findOrInsert(2, 1, 1)).to.equal(1); // halves swapped: a different id
      expect(h.findOrInsert(0, 0, 2)).to.equal(2);
      expect(h.findOrInsert(0xffffffff, 0xffffffff, 3)).to.equal(3);
      expect([idx.find(1, 2), idx.find(2, 1), idx.find(0, 0), idx.find(0xffffffff, 0xffffffff)]).to.deep.equal([0, 1, 2, 3]);
      expect([idx.find(0, 0xffffffff), idx.find(0xffffffff, 0)]).to.deep.equal([-1, -1]);
      expect(idx.size).to.equal(4);
      expect(idx.bytes()).to.equal(16 * slotBytes);
      expect(idx.remove(0, 0)).to.equal(2);
      expect(idx.remove(0xffffffff, 0xffffffff)).to.equal(3);
      expect([idx.find(0, 0), idx.find(0xffffffff, 0xffffffff), idx.find(1, 2)]).to.deep.equal([-1, -1, 0]);
    });

    it('grows x2 while small, exactly when an insert would pass load 0.8', () => {
      const h = new Harness(tagged);
      const idx = h.index;
      const caps = [idx.capacity];
      for (let i = 0; i < 5000; i++) {
        const before = idx.capacity;
        const full = idx.size === Math.floor(before * ID_INDEX_MAX_LOAD);
        if (full) {
          expect(h.findOrInsert(0, 7, -5)).to.equal(0); // present: found, no growth
          expect(idx.capacity).to.equal(before);
        }
        expect(h.findOrInsert(i, 7, i)).to.equal(i);
        if (full) {
          expect(idx.capacity).to.equal(nextCapacity(before));
          caps.push(idx.capacity);
          expect(idx.size / idx.capacity).to.be.at.least(0.4);
        } else {
          expect(idx.capacity).to.equal(before);
        }
        expect(idx.size / idx.capacity).to.be.at.most(ID_INDEX_MAX_LOAD);
      }
      expect(caps).to.deep.equal([16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192]);
      for (let i = 0; i < 5000; i++) expect(idx.find(i, 7)).to.equal(i);
      expect(idx.capacity).to.equal(capacityFor(idx.size));
      const pre = new Harness(tagged, 1000).index;
      expect(pre.capacity).to.equal(capacityFor(1000)); // pre-sized: no rehash needed for 1000
      expect(Math.floor(pre.capacity * ID_INDEX_MAX_LOAD)).to.be.at.least(1000);
    });

    it('matches a Map<bigint> reference under random insert/remove churn (backward shift)', () => {
      const next = rng(42);
      const ref = new Map<bigint, number>();
      const h = new Harness(tagged);
      const idx = h.index;
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
          const r = h.findOrInsert(lo, hi, nextRow);
          if (!ref.has(k)) ref.set(k, nextRow++);
          expect(r).to.equal(ref.get(k));
        }
        if (op % 20_000 === 0) expect(idx.size).to.equal(ref.size);
      }
      expect(idx.size).to.equal(ref.size);
      for (const [lo, hi] of universe) expect(idx.find(lo, hi)).to.equal(ref.get(key(lo, hi)) ?? -1);
      const seen = new Map<bigint, number>();
      idx.forEach((row) => seen.set(key(...h.rowIds.idOf(row)), row));
      expect(seen).to.deep.equal(ref);
      const ids = new Uint32Array(universe.flatMap(([lo, hi]) => [lo, hi]));
      const rows = new Int32Array(universe.length);
      const missing = idx.findAll(ids, universe.length, rows);
      expect(Array.from(rows)).to.deep.equal(universe.map(([lo, hi]) => ref.get(key(lo, hi)) ?? -1));
      expect(missing).to.equal(rows.filter((r) => r < 0).length);
    });

    it('backward shift across the wrap-around of a full probe run', () => {
      // Ids whose home is the last slot of the 16-slot table form a run that wraps to slot 0.
      const h = new Harness(tagged);
      const idx = h.index;
      const ids = idsWithHome(16, 15, 6);
      ids.forEach(([lo, hi], i) => h.findOrInsert(lo, hi, i));
      expect(idx.capacity).to.equal(16);
      expect(idx.remove(ids[0][0], ids[0][1])).to.equal(0);
      for (let i = 1; i < ids.length; i++) expect(idx.find(ids[i][0], ids[i][1])).to.equal(i);
      expect(idx.remove(ids[3][0], ids[3][1])).to.equal(3);
      expect(idx.find(ids[3][0], ids[3][1])).to.equal(-1);
      for (const i of [1, 2, 4, 5]) expect(idx.find(ids[i][0], ids[i][1])).to.equal(i);
      expect(idx.remove(ids[3][0], ids[3][1])).to.equal(-1);
      expect(idx.size).to.equal(4);
    });

    it('backward shift keeps an entry whose home lies between the hole and its slot, across the wrap', () => {
      // Slots 14, 15, 0, 1 hold a (home 14), b (home 14), c (home 0), d (home 15). Removing a lets
      // b and then d move back; c stays at its home.
      const h = new Harness(tagged);
      const idx = h.index;
      const [a, b] = idsWithHome(16, 14, 2);
      const [c] = idsWithHome(16, 0, 1);
      const [d] = idsWithHome(16, 15, 1);
      [a, b, c, d].forEach(([lo, hi], i) => h.findOrInsert(lo, hi, i));
      expect(idx.remove(a[0], a[1])).to.equal(0);
      expect([b, c, d].map(([lo, hi]) => idx.find(lo, hi))).to.deep.equal([1, 2, 3]);
      const order: number[] = [];
      idx.forEach((r) => order.push(r));
      expect(order).to.deep.equal([2, 1, 3]); // slot 0: c, slot 14: b, slot 15: d
    });

    it('sweeps across the wrap-around, revisiting a slot after each removal', () => {
      const h = new Harness(tagged);
      const idx = h.index;
      const ids = [...idsWithHome(16, 14, 3), ...idsWithHome(16, 1, 2)]; // slots 14, 15, 0, then 1, 2
      ids.forEach(([lo, hi], i) => h.findOrInsert(lo, hi, i));
      const visited: number[] = [];
      // Start past the capacity (taken modulo it); evict everything but row 3.
      const end = idx.sweep(16 + 14, 5, Infinity, (r) => {
        visited.push(r);
        return r !== 3;
      });
      expect(idx.lastRemoved).to.equal(3); // rows 0, 1, 2 from the wrapping run
      expect(visited.slice(0, 3)).to.deep.equal([0, 1, 2]);
      expect(end).to.be.within(0, 15);
      expect(idx.find(ids[3][0], ids[3][1])).to.equal(3);
      expect(idx.find(ids[4][0], ids[4][1])).to.equal(4);
      // A whole-table sweep wanting 1 stops after the first removal.
      idx.sweep(0, idx.capacity, 1, () => true);
      expect(idx.lastRemoved).to.equal(1);
      expect(idx.size).to.equal(1);
      idx.sweep(3, idx.capacity, Infinity, () => true);
      expect(idx.size).to.equal(0);
    });

    it('sweeps through growth to non-power-of-two capacities and removes every chosen id', () => {
      const h = new Harness(tagged);
      const idx = h.index;
      for (let i = 0; i < 700; i++) h.findOrInsert(i * 7919, i & 1, i);
      let hand = 123;
      let removed = 0;
      for (let pass = 0; pass < 40 && removed < 350; pass++) {
        hand = idx.sweep(hand, 37, Infinity, (r) => r % 2 === 0);
        removed += idx.lastRemoved;
      }
      expect(removed).to.equal(350);
      for (let i = 0; i < 700; i++) expect(idx.find(i * 7919, i & 1)).to.equal(i % 2 === 0 ? -1 : i);
      // Past 2^20 slots the capacity is no power of two; a sweep from near its end wraps.
      const n = 900_000;
      for (let i = 700; i < n; i++) h.findOrInsert(Math.imul(i, 7919) >>> 0, i & 1, i);
      expect(idx.capacity & (idx.capacity - 1)).to.not.equal(0);
      hand = idx.capacity - 600;
      removed = 0;
      for (let pass = 0; pass < 80 && removed < 350; pass++) {
        hand = idx.sweep(hand, 37, 350 - removed, (r) => r % 2 === 0);
        removed += idx.lastRemoved;
      }
      expect(removed).to.equal(350);
      expect(hand).to.be.below(idx.capacity - 600);
      let gone = 0;
      let wrong = 0;
      for (let i = 700; i < n; i++) {
        const r = idx.find(Math.imul(i, 7919) >>> 0, i & 1);
        if (r === -1 && i % 2 === 0) gone++;
        else if (r !== i) wrong++;
      }
      expect([gone, wrong]).to.deep.equal([350, 0]);
    }).timeout(60000);
  });
}

describe('TaggedIdIndex tag collisions', () => {
  const pairs = hashCollisions(4);

  it('the birthday search found distinct ids with equal hashes', () => {
    for (const [x, y] of pairs) {
      expect(key(...x)).to.not.equal(key(...y));
      expect(hashId(...x)).to.equal(hashId(...y));
    }
  });

  it('keeps colliding ids apart: find, findAll, findOrInsert and remove confirm through RowIds', () => {
    const h = new Harness(true);
    const idx = h.index;
    pairs.forEach(([x, y], i) => {
      expect(h.findOrInsert(x[0], x[1], 2 * i)).to.equal(2 * i);
      expect(idx.find(y[0], y[1])).to.equal(-1); // same tag, other id
      expect(h.findOrInsert(y[0], y[1], 2 * i + 1)).to.equal(2 * i + 1);
    });
    expect(idx.capacity).to.equal(16); // 8 ids in 16 slots: runs are short, but tags collide
    const all = pairs.flatMap(([x, y]) => [x, y]);
    const rows = new Int32Array(all.length);
    expect(idx.findAll(new Uint32Array(all.flat()), all.length, rows)).to.equal(0);
    expect(Array.from(rows)).to.deep.equal(all.map((_, i) => i));
    // findAll's first tag match is the other id of the pair when it sits earlier in the run.
    const later = pairs.map(([, y]) => y);
    expect(idx.findAll(new Uint32Array(later.flat()), later.length, rows)).to.equal(0);
    expect(Array.from(rows.subarray(0, later.length))).to.deep.equal(later.map((_, i) => 2 * i + 1));
    const [[x0, y0]] = pairs;
    expect(idx.remove(x0[0], x0[1])).to.equal(0);
    expect(idx.find(y0[0], y0[1])).to.equal(1);
    expect(idx.remove(x0[0], x0[1])).to.equal(-1);
    expect(idx.findAll(Uint32Array.of(x0[0], x0[1], y0[0], y0[1]), 2, rows)).to.equal(1);
    expect([rows[0], rows[1]]).to.deep.equal([-1, 1]);
  });

  it('confirms against RowIds, so a row whose id changed no longer matches', () => {
    const rowIds = new TestRowIds();
    const idx = new TaggedIdIndex(0, rowIds);
    idx.findOrInsert(5, 6, 0);
    rowIds.set(0, 5, 6);
    expect(idx.find(5, 6)).to.equal(0);
    rowIds.set(0, 5, 7); // a broken caller: the index trusts RowIds, not its tag
    expect(idx.find(5, 6)).to.equal(-1);
  });
});

describe('id index capacity arithmetic', () => {
  it('fastrange homes stay below the capacity for every capacity the index can reach', () => {
    const caps: number[] = [];
    for (let c = 16; ; c = nextCapacity(c)) {
      caps.push(c);
      if (c === ID_INDEX_MAX_CAPACITY) break;
    }
    expect(caps.length).to.be.greaterThan(40);
    const next = rng(3);
    for (const cap of [...caps, 2 ** 21 + 1, 2 ** 29 + 12345, ID_INDEX_MAX_CAPACITY - 1]) {
      const scale = cap / 2 ** 32;
      const random = Array.from({ length: 200 }, next);
      for (const h of [0, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 2, 2 ** 32 - 1, ...random]) {
        const home = Math.floor(h * scale);
        const exact = Number((BigInt(h) * BigInt(cap)) >> 32n);
        expect(home).to.be.within(0, cap - 1);
        // Rounding may move a home up one slot (about 2^-24 of hashes at the largest capacities).
        expect(home - exact).to.be.oneOf([0, 1]);
      }
    }
  });

  it('doubles below 2^20 slots and grows x1.25 from there to non-power-of-two capacities', () => {
    expect(ID_INDEX_FAST_GROWTH_BELOW).to.equal(2 ** 20);
    expect(nextCapacity(16)).to.equal(32);
    expect(nextCapacity(2 ** 19)).to.equal(2 ** 20);
    expect(nextCapacity(2 ** 20)).to.equal(1_310_720);
    expect(nextCapacity(1_310_720)).to.equal(1_638_400);
    expect(nextCapacity(ID_INDEX_MAX_CAPACITY - 1)).to.equal(ID_INDEX_MAX_CAPACITY);
  });

  it('capacityFor is the capacity growth reaches: load in [0.4, 0.8] while small, [0.64, 0.8] past 2^20 slots', () => {
    expect(capacityFor(0)).to.equal(16);
    expect(capacityFor(12)).to.equal(16);
    expect(capacityFor(13)).to.equal(32);
    for (const keys of [1000, 123_457, 838_860]) {
      const cap = capacityFor(keys);
      expect(cap).to.be.at.most(2 ** 20);
      expect(keys / cap).to.be.within(0.8 / 2 - 0.01, 0.8);
    }
    for (const keys of [838_861, 10_000_000, 100_000_000]) {
      const cap = capacityFor(keys);
      expect(cap).to.be.above(2 ** 20);
      expect(keys / cap).to.be.within(0.8 / 1.25 - 0.01, 0.8);
    }
  });
});
