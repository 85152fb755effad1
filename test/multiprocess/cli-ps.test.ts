import { expect } from 'chai';
import { spawnPs } from '../../src/local/ps-process';
import { runTessera } from '../helpers/tessera';
import { silentLogger } from '../../src/common/logger';
import { planShardMap } from '../../src/sharding/shard-map';
import { PsClient } from '../../src/client/ps-client';


describe('tessera binary (real OS processes)', function () {
  this.timeout(60_000);

  it('prints help for every command and rejects unknown options by name', async () => {
    for (const cmd of ['ps', 'demo']) {
      const r = await runTessera([cmd, '--help']);
      expect(r.code, cmd).to.equal(0);
      expect(r.stdout).to.contain(`Usage: tessera ${cmd}`);
    }
    const bad = await runTessera(['ps', '--prot', '7000']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.contain('--prot');
    const unknown = await runTessera(['nope']);
    expect(unknown.code).to.equal(2);
  });

  it('serves pulls and pushes from two `tessera ps` processes; each exits 0 on SIGTERM', async () => {
    const ps = await Promise.all([0, 1].map((i) => spawnPs({ args: ['--id', `ps-${i}`] })));
    const client = new PsClient({ shardMap: planShardMap(ps.map((p, id) => ({ id, addr: p.addr }))), logger: silentLogger() });
    try {
      await client.admin.installShardMap();
      await client.admin.createTable({ name: 't', kind: 'embedding', dim: 4, optimizer: { kind: 'sgd', lr: 1 }, initializer: { kind: 'zeros' } });
      const ids = new Uint32Array(2000).map((_, i) => (i % 2 === 0 ? i : 0));
      await client.data.push('t', ids, new Float32Array(1000 * 4).fill(1));
      await client.data.flush();
      const rows = await client.data.pull('t', ids, 4);
      expect(Array.from(new Set(rows))).to.deep.equal([-1]);
      const stats = await client.admin.stats();
      expect(stats.map((s) => s.tables[0].rows).every((r) => r > 300)).to.equal(true);
    } finally {
      client.close();
    }
    const codes = await Promise.all(ps.map((p) => p.stop()));
    expect(codes).to.deep.equal([0, 0]);
  });

  it('tessera demo trains rows through 2 PS processes and reports a falling loss', async () => {
    const r = await runTessera(['demo', '--steps', '40', '--batch', '2048', '--json']);
    expect(r.code, r.stderr).to.equal(0);
    // With --json stdout holds only the JSON; the step lines are on stderr (issue 22).
    const summary = JSON.parse(r.stdout);
    const first = Number(/step 0\s+loss (\S+)/.exec(r.stderr)![1]);
    expect(summary.final_loss).to.be.lessThan(first / 2);
    expect(summary.rows_per_ps).to.have.length(2);
    expect(Math.min(...summary.rows_per_ps)).to.be.greaterThan(0);
  });
});
