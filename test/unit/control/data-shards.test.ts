import { expect } from 'chai';
import { planDataShards } from '../../../src/chief/data-shards';
import { decidePsSet, psNumber } from '../../../src/chief/ps-set';
import { parseAssignment, parseJobState, parseProgress } from '../../../src/control/job-types';
import type { Member } from '../../../src/membership/membership';
import { planShardMap } from '../../../src/sharding/shard-map';

describe('data shard planning', () => {
  it('tiles each plain file with contiguous ranges, in proportion to size; a gzip file is one shard', () => {
    const shards = planDataShards([{ path: 'a', size: 3000, gzip: false }, { path: 'b', size: 1000, gzip: false }, { path: 'c.gz', size: 50, gzip: true }], 5);
    expect(shards.map((s) => s.id)).to.deep.equal(shards.map((_, i) => i));
    const a = shards.filter((s) => s.path === 'a');
    const b = shards.filter((s) => s.path === 'b');
    expect(a.length).to.equal(3);
    expect(b.length).to.equal(1);
    expect(a[0].start).to.equal(0);
    for (let i = 1; i < a.length; i++) expect(a[i].start).to.equal(a[i - 1].end);
    expect(a[a.length - 1].end).to.equal(3000);
    expect(shards.find((s) => s.path === 'c.gz')).to.include({ start: 0, end: 50, gzip: true });
  });

  it('refuses no files, empty data and a bad count, naming the problem', () => {
    expect(() => planDataShards([])).to.throw(/no training data/);
    expect(() => planDataShards([{ path: 'e', size: 0, gzip: false }])).to.throw(/empty: e/);
    expect(() => planDataShards([{ path: 'a', size: 10, gzip: false }], 0)).to.throw(/positive integer/);
  });
});

describe('PS set (decidePsSet)', () => {
  const m = (id: string, addr: string): Member => ({ role: 'ps', id, addr, incarnation: 'x', startedAt: '', pid: 1, host: 'h' });

  it('reads the PS number from the id and refuses ids without one', () => {
    expect(psNumber('ps-12')).to.equal(12);
    expect(psNumber('tessera-ps-3')).to.equal(3);
    expect(() => psNumber('alpha')).to.throw(/must end in its number/);
  });

  it('waits for the expected count, then plans over the lowest numbers', () => {
    expect(decidePsSet([m('ps-0', 'a:1')], undefined, 2)).to.deep.include({ kind: 'wait' });
    const d = decidePsSet([m('ps-2', 'c:1'), m('ps-0', 'a:1'), m('ps-1', 'b:1')], undefined, 2);
    expect(d.kind).to.equal('ready');
    if (d.kind !== 'ready') return;
    expect(d.publish).to.equal(true);
    expect(d.map.ps).to.deep.equal([{ id: 0, addr: 'a:1' }, { id: 1, addr: 'b:1' }]);
  });

  it('keeps a stored map; a PS back at a new address bumps the version with the same owners', () => {
    const stored = planShardMap([{ id: 0, addr: 'a:1' }, { id: 1, addr: 'b:1' }]);
    expect(decidePsSet([m('ps-0', 'a:1'), m('ps-1', 'b:1')], stored, 2)).to.deep.equal({ kind: 'ready', map: stored, publish: false });
    expect(decidePsSet([m('ps-0', 'a:1')], stored, 2)).to.deep.include({ kind: 'wait' });
    const d = decidePsSet([m('ps-0', 'a:1'), m('ps-1', 'b:2')], stored, 2);
    if (d.kind !== 'ready') throw new Error('expected ready');
    expect(d.map.version).to.equal(stored.version + 1);
    expect(d.map.ps[1].addr).to.equal('b:2');
    expect(Array.from(d.map.owner)).to.deep.equal(Array.from(stored.owner));
  });
});

describe('control records', () => {
  it('parse what is written and name the bad field', () => {
    expect(parseAssignment('{"shard":1,"epoch":0,"worker":"w","incarnation":"i"}')).to.deep.equal({ shard: 1, epoch: 0, worker: 'w', incarnation: 'i' });
    expect(() => parseAssignment('{"shard":-1,"epoch":0,"worker":"w","incarnation":"i"}')).to.throw(/assignment: shard must be a non-negative integer/);
    expect(() => parseProgress('not json')).to.throw(/progress: not JSON/);
    expect(() => parseJobState('{"epoch":0,"epochs":1,"phase":"run","shards":[],"evals":[]}')).to.throw(/phase must be one of/);
  });
});
