/**
 * Issue 17 on a whole local cluster (real etcd, PS, chief and workers, each its own process): a
 * third PS joins mid-job and the chief moves buckets to it; then `tessera ps drain ps-2` moves
 * them all back (`--wait` returns once done), ps-2 exits 0, and the job completes with every row
 * counted once.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { awaitSnapshot, clusterSuite, shardLedger, snapshotOf, SYNTHETIC_SPEC } from '../helpers/cluster';
import { lastJson, runTessera } from '../helpers/tessera';
import { awaitMap } from '../helpers/migration';

const ROWS = 60_000;

describe('live resharding on a local cluster (issue 17; real processes)', function () {
  this.timeout(300_000);
  const suite = clusterSuite(ROWS, (seq) => ({
    job: `reshard-${seq}`, specPath: SYNTHETIC_SPEC, ps: 2, workers: 2, data: suite.data.train, eval: suite.data.evalFile,
    epochs: 2, shards: 4, leaseTtlS: 2, commitEveryMs: 100, backend: 'wasm',
  }));

  it('a PS that joins mid-job takes buckets; drained, it gives them back and exits 0; every row is counted once', async () => {
    const c = await suite.start();
    await awaitSnapshot(c, (s) => ([...s.progress.values()].some((p) => p.rows > 0) ? true : undefined), 'training to start');
    const joined = await c.startPs(2);
    const exited = new Promise<number | null>((resolve) => joined.proc.once('exit', (code) => resolve(code)));
    const v2 = await awaitMap(c, (m) => m.ps.length === 3, 'ps-2 in the shard map');
    expect(v2.owner.filter((o) => v2.ps[o].id === 2).length).to.be.within(1365, 1366);

    const drain = await runTessera(['ps', 'drain', 'ps-2', '--etcd', c.etcdUrl, '--job', c.opts.job, '--wait', '--json']);
    expect(drain.code, drain.stderr).to.equal(0);
    expect(lastJson(drain.stdout)).to.deep.include({ ps: 'ps-2', requested: true, done: true });
    const last = await awaitMap(c, () => true, 'the shard map');
    expect(last.ps.map((p) => p.id), 'the map once --wait returned').to.deep.equal([0, 1]);
    expect(await exited, 'ps-2 exit code').to.equal(0);
    expect(last.version).to.be.greaterThan(v2.version);

    const result = await c.waitDone();
    expect(result.samples).to.equal(2 * ROWS);
    for (const s of await shardLedger(await snapshotOf(c))) {
      expect(s.done, `shard ${s.shard} done`).to.equal(true);
      expect(s.committed, `rows committed for shard ${s.shard}`).to.equal(s.actual);
    }
    const chief = fs.readdirSync(c.opts.runDir).filter((f) => f.startsWith('chief-') && f.endsWith('.log'))
      .map((f) => fs.readFileSync(path.join(c.opts.runDir, f), 'utf8')).join('\n');
    expect(chief.match(/"msg":"migration committed"/g)?.length ?? 0, 'migrations committed').to.be.at.least(3); // join, then the drain in two steps
  });

  it('tessera ps drain names what is wrong in one line: a PS not in the map, a missing --job', async () => {
    const c = await suite.start({ epochs: 1 });
    await awaitMap(c, () => true, 'the first shard map');
    const bad = await runTessera(['ps', 'drain', 'ps-7', '--etcd', c.etcdUrl, '--job', c.opts.job]);
    expect(bad.code).to.equal(2);
    expect(bad.stderr.trim().split('\n')).to.have.length(1);
    expect(bad.stderr).to.match(/ps-7 is not in job reshard-\d+'s shard map v\d+ \(its PS: 0, 1\)/);
    const noJob = await runTessera(['ps', 'drain', 'ps-1', '--etcd', c.etcdUrl]);
    expect(noJob.code).to.equal(2);
    expect(noJob.stderr).to.match(/needs --etcd URL and --job NAME/);
  });
});
