/**
 * Issue 17 §2, after a failover (real etcd, PS, chief and workers, each its own process): kill -9
 * a PS with `ps.replication: buddy`; its buddy's replica is promoted and owns the dead PS's
 * buckets. The supervisor restarts the PS under its id, empty. It joins as a new PS: live
 * resharding moves buckets back to it from the promoted buddy (which owns them now), buddies are
 * assigned again in the map, and both PS replicate to each other again, each reporting its lag.
 * The job completes with every row counted once, and no PS restored from a checkpoint.
 */
import { expect } from 'chai';
import { replicationCall } from '../../src/wire/replication-client';
import { awaitSnapshot, clusterSuite, shardLedger, snapshotOf, SYNTHETIC_SPEC } from '../helpers/cluster';
import { awaitLogs, logLines } from '../helpers/cluster-ledger';
import { awaitMap } from '../helpers/migration';
import { expectStatusReplication, specWith } from '../helpers/replication';

const ROWS = 60_000;

describe('PS failover, then the PS comes back: buckets move back to it and replication resumes (issue 17; real processes)', function () {
  this.timeout(600_000);
  const suite = clusterSuite(ROWS, (seq) => ({
    job: `rejoin-${seq}`, specPath: SYNTHETIC_SPEC, ps: 2, workers: 2, data: suite.data.train, eval: suite.data.evalFile,
    epochs: 2, shards: 4, leaseTtlS: 2, commitEveryMs: 100, backend: 'wasm',
  }));

  it('kill -9, promote, restart: the restarted PS owns buckets again, both PS replicate with a lag, every row counted once', async () => {
    const c = await suite.start({ specPath: specWith(suite.data.dir, 'buddy') });
    await awaitSnapshot(c, (s) => ([...s.progress.values()].some((p) => p.rows > 2_000) ? true : undefined), 'training to be under way');
    const before = await awaitMap(c, (m) => m.ps.length === 2 && m.ps.every((p) => p.buddy !== undefined), 'buddies in the shard map');

    await c.ps[1].kill();
    const promoted = await awaitLogs(c, 'chief', (ls) => ls.find((l) => l.msg === 'PS lost: promoted its buddy\'s replica'), 'the chief to promote the replica');
    expect([promoted.dead, promoted.buddy]).to.deep.equal([1, 0]);
    const failover = await awaitMap(c, (m) => m.version > before.version && m.ps.length === 1, 'the failover map (ps 0 alone)');
    expect(failover.ps[0].buddy, 'no buddy while ps 0 is alone').to.equal(undefined);

    // ps-1 is restarted by the supervisor, empty, and joins: buckets move back to it.
    const back = await awaitMap(c, (m) => m.ps.length === 2 && new Set(m.owner).size === 2 && m.ps.every((p) => p.buddy !== undefined), 'ps 1 owning buckets again, with buddies', 180_000);
    expect(back.ps.map((p) => [p.id, p.buddy])).to.deep.equal([[0, 1], [1, 0]]);
    await awaitLogs(c, 'chief', (ls) => ls.find((l) => l.msg === 'migration committed'), 'the migration back to ps 1');
    await awaitLogs(c, 'chief', (ls) => ls.find((l) => l.msg === 'replication configured' && Number(l.version) >= back.version), 'replication configured on the map with ps 1 back');
    for (const p of back.ps) {
      const st = await replicationCall<{ lagSeconds: number; buddyAddr: string }>(p.addr, 'ReplicationStatus', {});
      expect(st.buddyAddr, `ps ${p.id} replicates to its buddy`).to.equal(back.ps.find((q) => q.id === p.buddy)!.addr);
    }
    await expectStatusReplication(c, [[0, 1], [1, 0]]);

    const result = await c.waitDone();
    expect(result.samples).to.equal(2 * ROWS);
    for (const s of await shardLedger(await snapshotOf(c))) {
      expect(s.done, `shard ${s.shard} done`).to.equal(true);
      expect(s.committed, `rows committed for shard ${s.shard}`).to.equal(s.actual);
    }
    const chief = logLines(c, 'chief');
    expect(chief.filter((l) => /restarted empty/.test(String(l.msg))).map((l) => l.msg), 'no PS restored from a checkpoint').to.deep.equal([]);
    console.log(`      rejoin: failover map v${failover.version}, back at v${back.version}, auc ${result.auc!.toFixed(4)}`);
  });
});
