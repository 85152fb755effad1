/** Issue 17: the steps of a live resharding, planned from the published map and the PS set wanted. */
import { expect } from 'chai';
import { nextMigrationStep, withIdlePs } from '../../../src/sharding/migration-step';
import { movedBuckets, planShardMap, PsEndpoint, ShardMap } from '../../../src/sharding/shard-map';

const ps = (n: number): PsEndpoint[] => Array.from({ length: n }, (_, id) => ({ id, addr: `ps-${id}:7000` }));

/** Every step from `map` toward `desired`, applied in turn, until none is left. */
function walk(map: ShardMap, desired: PsEndpoint[]): { steps: ReturnType<typeof nextMigrationStep>[]; last: ShardMap } {
  const steps = [];
  for (let s = nextMigrationStep(map, desired); s; s = nextMigrationStep(map, desired)) {
    steps.push(s);
    map = s.to;
    expect(steps.length, 'steps').to.be.at.most(8);
  }
  return { steps, last: map };
}

const counts = (m: ShardMap) => m.ps.map((_, i) => m.owner.filter((o) => o === i).length);

describe('nextMigrationStep (issue 17)', () => {
  const v1 = planShardMap(ps(2));

  it('2 -> 3: one step, each source sends to the new PS only what planShardMap moves', () => {
    const { steps, last } = walk(v1, ps(3));
    expect(steps).to.have.length(1);
    const s = steps[0]!;
    expect(s.to.version).to.equal(2);
    expect(s.moves.map((m) => [m.from, m.to])).to.deep.equal([[0, 2], [1, 2]]);
    expect(s.moves.reduce((n, m) => n + m.buckets.length, 0)).to.equal(movedBuckets(v1, planShardMap(ps(3), { previous: v1 })).length);
    expect(Array.from(last.owner)).to.deep.equal(Array.from(planShardMap(ps(3), { previous: v1 }).owner));
  });

  it('3 -> 2 (drain ps 2): two steps, one target per source each, only ps 2\'s buckets move, and ps 2 leaves the map', () => {
    const v = planShardMap(ps(3));
    const { steps, last } = walk(v, ps(2));
    expect(steps).to.have.length(2);
    for (const s of steps) expect(s!.moves.every((m) => m.from === 2)).to.equal(true);
    expect(steps.map((s) => s!.moves.map((m) => m.to))).to.deep.equal([[0], [1]]);
    expect(steps[0]!.to.ps.map((p) => p.id)).to.deep.equal([0, 1, 2]); // still owns the rest
    expect(last.ps.map((p) => p.id)).to.deep.equal([0, 1]);
    expect(movedBuckets(v, last).length).to.equal(counts(v)[2]);
    expect(counts(last)).to.deep.equal([2048, 2048]);
  });

  it('2 -> 4: two steps (each source has two targets), the fewest buckets in all, balanced', () => {
    const { steps, last } = walk(v1, ps(4));
    expect(steps).to.have.length(2);
    expect(movedBuckets(v1, last).length).to.equal(movedBuckets(v1, planShardMap(ps(4), { previous: v1 })).length);
    expect(counts(last)).to.deep.equal([1024, 1024, 1024, 1024]);
    expect(steps[0]!.to.ps.map((p) => p.id)).to.deep.equal([0, 1, 2, 3]); // ps 3 listed, owning nothing yet
  });

  it('nothing to do for the same PS set, balanced; a new address alone moves nothing', () => {
    expect(nextMigrationStep(v1, ps(2))).to.equal(undefined);
    expect(nextMigrationStep(v1, [{ id: 0, addr: 'elsewhere:1' }, { id: 1, addr: 'ps-1:7000' }])).to.equal(undefined);
  });

  it('withIdlePs appends PS owning nothing, keeping every owner index', () => {
    const m = withIdlePs(v1, [{ id: 1, addr: 'x:1' }, { id: 5, addr: 'ps-5:7000' }]);
    expect(m.ps.map((p) => p.id)).to.deep.equal([0, 1, 5]);
    expect(m.ps[1].addr).to.equal('ps-1:7000');
    expect(m.owner).to.equal(v1.owner);
  });
});
