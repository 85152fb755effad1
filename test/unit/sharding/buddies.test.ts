import { expect } from 'chai';
import { TesseraError } from '../../../src/common/errors';
import { assignBuddies, failoverMap, sameBuddies, withBuddies } from '../../../src/sharding/buddies';
import { bucketsOwnedBy, planShardMap, shardMapFromJSON, shardMapToJSON } from '../../../src/sharding/shard-map';

// Issue 17 §2: the chief's buddy assignment and the failover map it publishes.
describe('assignBuddies (issue 17 replication)', () => {
  it('gives each PS the next PS on the id ring that runs in another process', () => {
    const b = assignBuddies([{ id: 0, process: 'h/10' }, { id: 1, process: 'h/10' }, { id: 2, process: 'h/11' }, { id: 3, process: 'h/11' }]);
    expect([...b]).to.deep.equal([[0, 2], [1, 2], [2, 0], [3, 0]]);
    for (const [p, q] of b) expect(p, 'never itself').to.not.equal(q);
  });

  it('one PS per process: the ring neighbour, wrapping around', () => {
    const b = assignBuddies([{ id: 5, process: 'a' }, { id: 1, process: 'b' }, { id: 3, process: 'c' }]);
    expect([...b].sort((x, y) => x[0] - y[0])).to.deep.equal([[1, 3], [3, 5], [5, 1]]);
  });

  it('shards of a single process still get a buddy (a sibling), and a lone PS gets none', () => {
    expect([...assignBuddies([{ id: 0, process: 'p' }, { id: 1, process: 'p' }])]).to.deep.equal([[0, 1], [1, 0]]);
    expect(assignBuddies([{ id: 0, process: 'p' }]).size).to.equal(0);
  });
});

describe('failoverMap (issue 17 replication)', () => {
  const ps = [{ id: 0, addr: 'a:1' }, { id: 1, addr: 'b:1' }, { id: 2, addr: 'c:1' }];
  const map = withBuddies(planShardMap(ps, { numBuckets: 12 }), new Map([[0, 1], [1, 2], [2, 0]]));

  it('records buddies in the map JSON (the etcd record) and reads them back', () => {
    const back = shardMapFromJSON(JSON.parse(JSON.stringify(shardMapToJSON(map))));
    expect(back.ps.map((p) => p.buddy)).to.deep.equal([1, 2, 0]);
    expect(sameBuddies(back, map)).to.equal(true);
    expect(sameBuddies(withBuddies(map, new Map()), map)).to.equal(false);
  });

  it('hands the dead PS\'s buckets to its buddy, one version up, and moves nothing else', () => {
    const next = failoverMap(map, new Set([1]));
    expect(next.version).to.equal(map.version + 1);
    expect(next.ps.map((p) => p.id)).to.deep.equal([0, 2]);
    const toTwo = new Set(bucketsOwnedBy(next, 1));
    for (const b of bucketsOwnedBy(map, 1)) expect(toTwo.has(b), `bucket ${b} to the buddy`).to.equal(true);
    for (const b of bucketsOwnedBy(map, 0)) expect(next.ps[next.owner[b]].id).to.equal(0);
  });

  it('refuses when the buddy is dead too: there is no replica to promote', () => {
    expect(() => failoverMap(map, new Set([1, 2]))).to.throw(TesseraError, /PS 1 is gone and its buddy 2 is gone too/);
  });
});
