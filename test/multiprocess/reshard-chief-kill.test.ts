/**
 * Issue 17, a chief killed mid-migration on a whole local cluster (real etcd, PS, two chief
 * candidates and workers, each its own process): a third PS joins; the moment the leading chief
 * records the migration in etcd (an etcd watch on the `migration` key, not a clock), it is killed
 * with SIGKILL. The successor finds the record and rolls the migration back (no commit yet) or
 * forward (committed), from etcd alone, then moves the buckets again; the job completes with
 * every row counted once and every acknowledged push applied exactly once.
 */
import { expect } from 'chai';
import { createEtcdClient } from '../../src/runtime/etcd-client';
import { jobPrefix, KEYS } from '../../src/membership/keys';
import { awaitSnapshot, clusterSuite, logLines, shardLedger, snapshotOf, SYNTHETIC_SPEC } from '../helpers/cluster';
import { awaitMap, pushTally } from '../helpers/migration';

const ROWS = 60_000;
const RECOVERED = /^found a (committed migration not finished|migration that did not commit)/;

describe('a chief killed mid-migration: its successor finishes or rolls it back from etcd (issue 17; real processes)', function () {
  this.timeout(300_000);
  const suite = clusterSuite(ROWS, (seq) => ({
    job: `chief-kill-${seq}`, specPath: SYNTHETIC_SPEC, ps: 2, workers: 2, chiefs: 2, data: suite.data.train,
    epochs: 2, shards: 4, leaseTtlS: 2, commitEveryMs: 100, backend: 'wasm',
  }));

  it('kill -9 of the leading chief once the migration is recorded: the job completes, every row and push counted once', async () => {
    const c = await suite.start();
    await awaitSnapshot(c, (s) => ([...s.progress.values()].some((p) => p.rows > 0) ? true : undefined), 'training to start');
    const leaderId = (await c.status())?.chief;
    const leader = c.chiefs.find((ch) => ch.name === leaderId)!;
    expect(leader, `the leading chief ${leaderId} among ${c.chiefs.map((ch) => ch.name)}`).to.not.equal(undefined);
    const etcd = createEtcdClient(c.etcdUrl);
    try {
      const watcher = await etcd.namespace(jobPrefix(c.opts.job)).watch().key(KEYS.MIGRATION).create();
      const recorded = new Promise<string>((resolve) => watcher.once('put', (kv) => {
        leader.proc.kill('SIGKILL');
        resolve(JSON.parse(kv.value.toString()).phase as string);
      }));
      await c.startPs(2);
      expect(await recorded, 'the phase the migration record had when the chief was killed').to.be.oneOf(['copy', 'commit']);
      await watcher.cancel();
    } finally {
      etcd.close();
    }
    const v = await awaitMap(c, (m) => m.ps.length === 3 && m.owner.some((o) => m.ps[o].id === 2), 'ps-2 owning buckets');

    const result = await c.waitDone();
    expect(result.samples).to.equal(2 * ROWS);
    const end = await snapshotOf(c);
    expect(end.migration, 'no migration left recorded').to.equal(undefined);
    for (const s of await shardLedger(end)) expect(s.committed, `rows committed for shard ${s.shard}`).to.equal(s.actual);
    const chiefs = logLines(c, 'chief');
    expect(chiefs.filter((l) => RECOVERED.test(String(l.msg))), 'a successor recovered the recorded migration').to.have.length.at.least(1);
    expect(chiefs.filter((l) => l.msg === 'migration committed').length, 'the buckets moved after the recovery').to.be.at.least(1);

    const tally = await pushTally(c, 2);
    expect(tally.faults, 'worker faults or retrains').to.deep.equal([]);
    expect(tally.mapVersion, 'a worker client routed by the final map').to.be.at.least(v.version);
    expect(tally.acked, 'pushes the workers saw acknowledged').to.be.greaterThan(0);
    expect(tally.applied, 'pushes the PS applied').to.equal(tally.acked);
  });
});
