import { expect } from 'chai';
import { ERROR_CODES } from '../../../src/common/errors';
import { bucketOf } from '../../../src/sharding/buckets';
import {
  bucketsOwnedBy, movedBuckets, ownerOf, planShardMap, shardMapFromJSON, shardMapToJSON,
  type PsEndpoint, type ShardMap,
} from '../../../src/sharding/shard-map';
import { Rng } from './rng';

const ps = (...ids: number[]): PsEndpoint[] => ids.map((id) => ({ id, addr: `ps-${id}.tessera:7000` }));

/** Buckets per PS id. */
function loads(map: ShardMap): Map<number, number> {
  const out = new Map<number, number>(map.ps.map((p) => [p.id, 0]));
  for (const o of map.owner) out.set(map.ps[o].id, (out.get(map.ps[o].id) ?? 0) + 1);
  return out;
}

function expectBalanced(map: ShardMap): void {
  const n = map.ps.length, lo = Math.floor(map.numBuckets / n), hi = Math.ceil(map.numBuckets / n);
  for (const [id, c] of loads(map)) expect(c, `ps ${id} of ${n}`).to.be.within(lo, hi);
}

/** Independent lower bound on buckets that must move from `prev` to a balanced map over `ids`. */
function minMoves(prev: ShardMap, ids: number[]): number {
  const held = loads(prev), n = ids.length, f = Math.floor(prev.numBuckets / n);
  let stay = 0, aboveFloor = 0;
  for (const id of ids) {
    const h = held.get(id) ?? 0;
    stay += Math.min(h, f);
    if (h > f) aboveFloor++;
  }
  return prev.numBuckets - stay - Math.min(prev.numBuckets % n, aboveFloor);
}

describe('sharding/shard-map', () => {
  it('plans a balanced version-1 map for 1..7 PS, sorted by id', () => {
    for (const numBuckets of [4096, 100, 7, 1]) {
      for (let n = 1; n <= 7; n++) {
        const ids = Array.from({ length: n }, (_, i) => 100 - 10 * i); // descending input
        const map = planShardMap(ps(...ids), { numBuckets });
        expect(map.version).to.equal(1);
        expect(map.numBuckets).to.equal(numBuckets);
        expect(map.owner).to.be.instanceOf(Uint16Array).with.length(numBuckets);
        expect(map.ps.map((p) => p.id)).to.deep.equal([...ids].sort((a, b) => a - b));
        expectBalanced(map);
      }
    }
  });

  it('is deterministic and independent of the order of ps', () => {
    const a = planShardMap(ps(5, 1, 9, 3));
    const b = planShardMap(ps(9, 3, 5, 1));
    expect(shardMapToJSON(a)).to.deep.equal(shardMapToJSON(b));
    const a2 = planShardMap(ps(5, 1, 9), { previous: a });
    const b2 = planShardMap(ps(1, 9, 5), { previous: b });
    expect(shardMapToJSON(a2)).to.deep.equal(shardMapToJSON(b2));
  });

  it('4 → 3 PS moves only the removed PS\'s buckets and increments the version', () => {
    const v1 = planShardMap(ps(1, 2, 3, 4));
    const v2 = planShardMap(ps(1, 2, 4), { previous: v1 });
    expect(v2.version).to.equal(2);
    expectBalanced(v2);
    const moved = movedBuckets(v1, v2);
    expect(moved.length).to.equal(1024).and.to.be.at.most(4096 / 3);
    for (const b of moved) expect(v1.ps[v1.owner[b]].id, `bucket ${b}`).to.equal(3);
  });

  it('3 → 4 PS moves exactly the new PS\'s share, all onto the new PS', () => {
    const v1 = planShardMap(ps(1, 2, 3));
    const v2 = planShardMap(ps(1, 2, 3, 4), { previous: v1 });
    expectBalanced(v2);
    const moved = movedBuckets(v1, v2);
    expect(moved.length).to.equal(1024);
    for (const b of moved) expect(v2.ps[v2.owner[b]].id, `bucket ${b}`).to.equal(4);
  });

  it('moves the minimum over random membership changes, keeping under-quota owners whole', () => {
    const rng = new Rng(31);
    for (const numBuckets of [4096, 1000, 13]) {
      let ids = [1, 2, 3];
      let map = planShardMap(ps(...ids), { numBuckets });
      for (let step = 0; step < 40; step++) {
        const next = ids.filter(() => rng.int(4) !== 0);
        while (next.length < 1 + rng.int(7)) next.push(10 + step * 10 + next.length);
        const prev = map;
        map = planShardMap(ps(...next), { previous: prev });
        expect(map.version).to.equal(prev.version + 1);
        expectBalanced(map);
        expect(movedBuckets(prev, map).length, `step ${step}`).to.equal(minMoves(prev, next));
        const held = loads(prev), floor = Math.floor(numBuckets / next.length);
        for (let b = 0; b < numBuckets; b++) {
          const id = prev.ps[prev.owner[b]].id;
          if (next.includes(id) && (held.get(id) ?? 0) <= floor) expect(map.ps[map.owner[b]].id).to.equal(id);
        }
        ids = next;
      }
    }
  });

  it('re-planning the same PS moves nothing; a PS keeps its buckets across an addr change', () => {
    const v1 = planShardMap(ps(1, 2, 3));
    const v2 = planShardMap(ps(1, 2, 3), { previous: v1 });
    expect(v2.version).to.equal(2);
    expect(movedBuckets(v1, v2)).to.deep.equal([]);
    const v3 = planShardMap([...ps(1, 3), { id: 2, addr: '10.0.0.9:7100' }], { previous: v2 });
    expect(movedBuckets(v2, v3)).to.deep.equal([]);
    expect(v3.ps[1]).to.deep.equal({ id: 2, addr: '10.0.0.9:7100' });
  });

  it('gives some PS no bucket when there are more PS than buckets', () => {
    const map = planShardMap(ps(1, 2, 3, 4, 5), { numBuckets: 3 });
    expect([...loads(map).values()]).to.deep.equal([1, 1, 1, 0, 0]);
  });

  it('ownerOf uses the bucket map; bucketsOwnedBy partitions the buckets', () => {
    const map = planShardMap(ps(7, 8, 9), { numBuckets: 64 });
    const rng = new Rng(32);
    for (let i = 0; i < 200; i++) {
      const lo = rng.u32(), hi = rng.u32();
      expect(ownerOf(map, lo, hi)).to.equal(map.owner[bucketOf(lo, hi, 64)]);
    }
    const all = [0, 1, 2].flatMap((p) => bucketsOwnedBy(map, p)).sort((a, b) => a - b);
    expect(all).to.deep.equal(Array.from({ length: 64 }, (_, b) => b));
    for (const b of bucketsOwnedBy(map, 1)) expect(map.owner[b]).to.equal(1);
    expect(() => bucketsOwnedBy(map, 3)).to.throw(/"psIndex"/);
  });

  it('movedBuckets compares owners by PS id, not by index', () => {
    const a = planShardMap(ps(1, 2), { numBuckets: 8 });
    const b: ShardMap = { ...a, ps: [a.ps[1], a.ps[0]], owner: a.owner.map((o) => 1 - o) };
    expect(movedBuckets(a, b)).to.deep.equal([]);
    expect(() => movedBuckets(a, planShardMap(ps(1, 2), { numBuckets: 9 }))).to.throw(/numBuckets/);
  });

  it('rejects bad input with errors that name the key', () => {
    const bad = (fn: () => unknown, re: RegExp): void => {
      expect(fn).to.throw(re).with.property('code', ERROR_CODES.INVALID_ARGUMENT);
    };
    bad(() => planShardMap([]), /"ps" must be a non-empty array/);
    bad(() => planShardMap(ps(1, 2, 1)), /"ps\[2\]\.id" duplicates PS id 1/);
    bad(() => planShardMap([{ id: -1, addr: 'h:1' }]), /"ps\[0\]\.id"/);
    bad(() => planShardMap([{ id: 1, addr: 'no-port' }]), /"ps\[0\]\.addr"/);
    bad(() => planShardMap([{ id: 1, addr: 'h:70000' }]), /"ps\[0\]\.addr"/);
    for (const numBuckets of [0, 65537, 1.5]) bad(() => planShardMap(ps(1), { numBuckets }), /"numBuckets"/);
    const v1 = planShardMap(ps(1, 2), { numBuckets: 16 });
    bad(() => planShardMap(ps(1), { numBuckets: 32, previous: v1 }), /"previous\.numBuckets" \(16\)/);
    bad(() => planShardMap(ps(1), { previous: { ...v1, owner: new Uint16Array(16).fill(5) } }), /"previous\.owner\[0\]"/);
    expect(planShardMap(ps(1), { numBuckets: 65536 }).owner.length).to.equal(65536);
  });

  it('round-trips through JSON text', () => {
    const v2 = planShardMap(ps(4, 5, 6), { previous: planShardMap(ps(4, 5), { numBuckets: 100 }) });
    const json = JSON.parse(JSON.stringify(shardMapToJSON(v2)));
    expect(json.owner).to.be.an('array').with.length(100);
    const back = shardMapFromJSON(json);
    expect(back.version).to.equal(2);
    expect(back.ps).to.deep.equal(v2.ps);
    expect(back.owner).to.be.instanceOf(Uint16Array);
    expect(Array.from(back.owner)).to.deep.equal(Array.from(v2.owner));
  });

  it('shardMapFromJSON names the offending key', () => {
    const good = shardMapToJSON(planShardMap(ps(1, 2), { numBuckets: 4 }));
    const cases: [unknown, RegExp][] = [
      [null, /must be a JSON object/],
      [[], /must be a JSON object/],
      [{ ...good, version: undefined }, /"version"/],
      [{ ...good, version: '3' }, /"version"/],
      [{ ...good, numBuckets: 0 }, /"numBuckets"/],
      [{ ...good, ps: [] }, /"ps"/],
      [{ ...good, ps: [{ id: 1, addr: 'a:1' }, 'x'] }, /"ps\[1\]" must be an object/],
      [{ ...good, ps: [{ id: 1, addr: 'a:1' }, { id: 2, addr: 5 }] }, /"ps\[1\]\.addr"/],
      [{ ...good, owner: [0, 1, 0] }, /"owner" must be an array of numBuckets \(4\)/],
      [{ ...good, owner: [0, 1, 2, 0] }, /"owner\[2\]" must be an integer in \[0, 1\], got 2/],
      [{ ...good, owner: [0, 1, 0, -1] }, /"owner\[3\]"/],
    ];
    for (const [obj, re] of cases) {
      expect(() => shardMapFromJSON(obj), JSON.stringify(obj)).to.throw(re)
        .with.property('code', ERROR_CODES.INVALID_ARGUMENT);
    }
  });
});
