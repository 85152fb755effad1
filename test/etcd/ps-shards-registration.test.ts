/**
 * Issue 18: a `tessera ps --shards 2` process registers each shard as a PS of its own
 * (ps-1 → ps-2, ps-3), serves every shard's series on its one /metrics with a `shard` label, and
 * on SIGTERM revokes both leases and exits 0.
 */
import { expect } from 'chai';
import { Etcd3 } from 'etcd3';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnPs } from '../../src/local/ps-process';
import { silentLogger } from '../../src/common/logger';
import { EtcdMembership } from '../../src/membership/etcd-membership';
import { PsClient } from '../../src/client/ps-client';
import { planShardMap } from '../../src/sharding/shard-map';
import { EtcdHandle, requireEtcd, startEtcd } from '../helpers/etcd';

describe('tessera ps --shards 2 --etcd (issue 18; real etcd, a real PS process)', function () {
  this.timeout(60_000);
  let etcd: EtcdHandle;
  let client: Etcd3;
  let observer: EtcdMembership;
  const job = 'psshards';

  before(async function () {
    requireEtcd(this);
    etcd = await startEtcd();
    client = new Etcd3({ hosts: etcd.url });
    observer = new EtcdMembership({ client, job, logger: silentLogger() });
  });
  after(async () => {
    await observer?.close();
    client?.close();
    await etcd?.stop();
  });

  it('registers one member per shard, serves each shard its own rows, labels /metrics by shard, and leaves etcd on SIGTERM', async () => {
    const log = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-psshards-')), 'ps.log');
    const ps = await spawnPs({ shards: 2, logFile: log, args: ['--etcd', etcd.url, '--job', job, '--id', 'ps-1', '--lease-ttl', '2'] });
    expect(ps.addrs).to.have.length(2);
    expect(new Set(ps.addrs).size).to.equal(2);
    const members = (await observer.list('ps')).map((m) => `${m.id}@${m.addr}`).sort();
    expect(members).to.deep.equal([`ps-2@${ps.addrs[0]}`, `ps-3@${ps.addrs[1]}`]);

    // Each shard is a PS: a client routes buckets to both, and each holds only its own rows.
    const ps2 = new PsClient({ shardMap: planShardMap(ps.addrs.map((addr, k) => ({ id: 2 + k, addr }))), logger: silentLogger() });
    try {
      await ps2.admin.installShardMap();
      await ps2.admin.createTable({ name: 't', kind: 'embedding', dim: 4, optimizer: { kind: 'sgd', lr: 1 }, initializer: { kind: 'zeros' } });
      const ids = new Uint32Array(4000).map((_, i) => (i % 2 === 0 ? i + 1 : 0));
      await ps2.data.push('t', ids, new Float32Array(2000 * 4).fill(1));
      await ps2.data.flush();
      expect(Array.from(new Set(await ps2.data.pull('t', ids, 4)))).to.deep.equal([-1]);
      const rows = (await ps2.admin.stats()).map((s) => s.tables[0].rows);
      expect(rows[0] + rows[1]).to.equal(2000);
      expect(Math.min(...rows)).to.be.greaterThan(700);

      const url = /"metricsUrl":"([^"]+)"/.exec(fs.readFileSync(log, 'utf8'))![1];
      const text = await (await fetch(url)).text();
      for (const [k, id] of [[0, 'ps-2'], [1, 'ps-3']] as const) {
        const line = text.split('\n').find((l) => l.startsWith('tessera_ps_rows_total{') && l.includes('op="push"') && l.includes(`shard="${k}"`));
        expect(line, `push rows of shard ${k}`).to.include(`id="${id}"`);
        expect(Number(line!.split(' ').pop())).to.equal(rows[k]);
      }
      // Process-wide series once, under the process's own id; every family declared once.
      expect(text.match(/^process_cpu_user_seconds_total\{/gm)).to.have.length(1);
      const types = text.split('\n').filter((l) => l.startsWith('# TYPE '));
      expect(new Set(types).size).to.equal(types.length);
    } finally {
      ps2.close();
    }
    expect(await ps.stop()).to.equal(0);
    expect(await observer.list('ps')).to.deep.equal([]);
  });
});
