/**
 * Issue 17: the chief tells a drained PS's planned exit from a change of the PS it published. A
 * PS leaving that the published map no longer lists and whose drain etcd records as done is
 * planned (no attach, no abandoned checkpoint); every other PS membership change is not.
 */
import { expect } from 'chai';
import { isPlannedExit } from '../../../src/chief/ps-guard';
import { planShardMap } from '../../../src/sharding/shard-map';

describe('a drained PS leaving is a planned exit, not a PS change (issue 17)', () => {
  // ps-2 was drained: the map after its last migration lists ps-0 and ps-1 only.
  const before = planShardMap([{ id: 0, addr: 'a:1' }, { id: 1, addr: 'b:1' }, { id: 2, addr: 'c:1' }]);
  const after = planShardMap([{ id: 0, addr: 'a:1' }, { id: 1, addr: 'b:1' }], { previous: before });
  const done = new Set(['ps-2']);
  const left = (id: string) => ({ type: 'remove' as const, role: 'ps' as const, id });

  it('is planned: the PS left, owns no bucket in the published map, and its drain is recorded done', () => {
    expect(isPlannedExit(left('ps-2'), after, done)).to.equal(true);
    expect(isPlannedExit(left('tessera-ps-2'), after, new Set(['tessera-ps-2'])), 'a StatefulSet pod name ends in the PS number too').to.equal(true);
  });

  it('is a change when the published map still lists the PS (it owns buckets: a restart or a crash)', () => {
    expect(isPlannedExit(left('ps-2'), before, done)).to.equal(false);
  });

  it('is a change when no done drain is recorded for it (it left unasked, or before its drain was done)', () => {
    expect(isPlannedExit(left('ps-2'), after, new Set())).to.equal(false);
    expect(isPlannedExit(left('ps-2'), after, new Set(['ps-3']))).to.equal(false);
  });

  it('is a change for anything but a leave, and with no published map yet', () => {
    expect(isPlannedExit({ type: 'add', role: 'ps', id: 'ps-2' }, after, done)).to.equal(false);
    expect(isPlannedExit({ type: 'update', role: 'ps', id: 'ps-2' }, after, done)).to.equal(false);
    expect(isPlannedExit(left('ps-2'), undefined, done)).to.equal(false);
    expect(isPlannedExit(left('ps-x'), after, new Set(['ps-x'])), 'an id with no PS number').to.equal(false);
  });
});
