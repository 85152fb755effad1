/**
 * Issue 23, items 2 and 3: the chief's check that every PS is as published. A PS on a shard-map
 * version the chief did not publish, a PS that restarted, and a table dropped (or dropped and
 * created again) under a PS that did not restart are each told apart.
 */
import { expect } from 'chai';
import type { TableRecord } from '../../../src/control/job-types';
import { allWell, auditPs, describeChanges, republishVersion, tableRecordOf } from '../../../src/chief/ps-audit';
import { planShardMap } from '../../../src/sharding/shard-map';

describe('auditing the PS against the published map and tables (issue 23, items 2-3)', () => {
  const map = { ...planShardMap([{ id: 0, addr: 'a:1' }, { id: 1, addr: 'b:1' }]), version: 7 };
  const record: TableRecord = {
    generation: 3, mapVersion: 7,
    ps: [{ id: 0, member: 'm0', tables: { emb: 11, dense: 12 } }, { id: 1, member: 'm1', tables: { emb: 21 } }],
  };
  const seen = (v0: number, t0: Record<string, number>, member1 = 'm1', v1 = 7, t1: Record<string, number> = { emb: 21 }) => [
    { id: 0, member: 'm0', stats: { shardMapVersion: v0, tables: t0 } },
    { id: 1, member: member1, stats: { shardMapVersion: v1, tables: t1 } },
  ];

  it('finds nothing wrong when every PS serves the published version and the recorded incarnations', () => {
    expect(allWell(auditPs(map, record, seen(7, { emb: 11, dense: 12 })))).to.equal(true);
  });

  it('finds a PS on a version above the published one (item 3), and one below', () => {
    const f = auditPs(map, record, seen(1007, { emb: 11, dense: 12 }, 'm1', 3));
    expect(f.mapAhead).to.deep.equal([{ ps: 0, version: 1007 }]);
    expect(f.mapBehind).to.deep.equal([1]);
    expect(republishVersion(map, f.mapAhead)).to.equal(1008);
    expect(republishVersion(map, [{ version: Number.MAX_SAFE_INTEGER }]), 'no exact version above it').to.equal(undefined);
  });

  it('tells a table dropped (or dropped and created again) on a live PS (item 2) from a PS that restarted', () => {
    const f = auditPs(map, record, seen(7, { emb: 99 }, 'm1-new', 7, {}));
    expect(f.recreated).to.deep.equal([{ ps: 0, changes: [{ table: 'emb', expected: 11, found: 99 }, { table: 'dense', expected: 12, found: null }] }]);
    expect(f.restarted).to.deep.equal([1]);
    expect(describeChanges(f.recreated)).to.equal('ps 0: table "emb" was dropped and created again (incarnation 99, recorded 11), table "dense" was dropped');
  });

  // Issue 17: a PS that lost its etcd lease (stalled past the TTL) re-registers under a new
  // member incarnation but keeps its tables and rows; restoring it from a checkpoint would roll
  // its rows back (seen after a failover's migration back on a loaded machine).
  it('does not take a PS that re-registered with its recorded tables for one that restarted', () => {
    const f = auditPs(map, record, seen(7, { emb: 11, dense: 12 }, 'm1-again', 7, { emb: 21 }));
    expect(allWell(f)).to.equal(true);
    expect(tableRecordOf(map, record, seen(7, { emb: 11, dense: 12 }, 'm1-again')).ps[1].member, 'recorded under its new incarnation').to.equal('m1-again');
  });

  it('skips a PS that did not answer or is not registered, and records the next generation', () => {
    const f = auditPs(map, record, [{ id: 0, member: undefined, stats: undefined }, { id: 1, member: 'm1', stats: undefined }]);
    expect(allWell(f)).to.equal(true);
    const next = tableRecordOf(map, record, seen(7, { emb: 11, dense: 12 }));
    expect(next.generation).to.equal(4);
    expect(next.ps[1]).to.deep.equal({ id: 1, member: 'm1', tables: { emb: 21 } });
  });
});
