import { expect } from 'chai';
import { Etcd3 } from 'etcd3';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnPs } from '../../src/local/ps-process';
import { silentLogger } from '../../src/common/logger';
import { EtcdMembership } from '../../src/membership/etcd-membership';
import type { MembershipEvent } from '../../src/membership/membership';
import { EtcdHandle, requireEtcd, startEtcd } from '../helpers/etcd';
import { lastJson, runTessera } from '../helpers/tessera';
import { ShardMapStore } from '../../src/membership/shard-map-store';
import { planShardMap } from '../../src/sharding/shard-map';
import { PsClient } from '../../src/client/ps-client';
import { spawnNode } from '../helpers/spawn';
import { TESSERA_BIN } from '../../src/local/ps-process';
import { jobPrefix, memberKey } from '../../src/membership/keys';

/**
 * Issue #4: PS processes register in etcd under a lease; a second PS with the same id is refused.
 * Issue 18: a process of several shards registers each shard as a PS of its own.
 */
/** Distinct ids pulled into a table with a one-slab budget: about 150,000 per shard, so each spills. */
const SPILL_IDS = 300_000;

describe('tessera ps --etcd (real etcd, real PS processes)', function () {
  this.timeout(60_000);
  let etcd: EtcdHandle;
  let client: Etcd3;
  let observer: EtcdMembership;
  const job = 'psreg';

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

  it('registers members/ps/<id> with its address, refuses a duplicate id, and vanishes when killed', async () => {
    const events: MembershipEvent[] = [];
    let onEvent: () => void = () => undefined;
    const watch = await observer.watch('ps', (ev) => { events.push(ev); onEvent(); });
    const next = (pred: (ev: MembershipEvent) => boolean) => new Promise<MembershipEvent>((resolve) => {
      const check = () => { const hit = events.find(pred); if (hit) resolve(hit); };
      onEvent = check;
      check();
    });
    const args = ['--etcd', etcd.url, '--job', job, '--id', 'ps-7', '--lease-ttl', '2'];
    const ps = await spawnPs({ args });
    const added = await next((ev) => ev.type === 'add');
    expect(added.id).to.equal('ps-7');
    expect(added.member?.addr).to.equal(ps.addr);

    const log = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-psreg-')), 'dup.log');
    const dup = await spawnPs({ args, logFile: log }).then(() => null, (e: Error) => e);
    expect(dup?.message).to.match(/exited \(code 2/);
    expect(fs.readFileSync(log, 'utf8')).to.match(/ps ps-7 is already registered by pid \d+/);

    await ps.kill(); // SIGKILL: no chance to revoke; the lease must expire (TTL 2 s)
    const removed = await next((ev) => ev.type === 'remove');
    expect(removed.id).to.equal('ps-7');
    watch.stop();
  });

  it('tessera status --json reports the registered PS and the published shard map', async () => {
    const ps = await spawnPs({ args: ['--etcd', etcd.url, '--job', job, '--id', 'ps-9'] });
    try {
      await new ShardMapStore({ client, job, logger: silentLogger() }).publish(planShardMap([{ id: 9, addr: ps.addr }], { numBuckets: 64 }), 0);
      const r = await runTessera(['status', '--etcd', etcd.url, '--job', job, '--json']);
      expect(r.code, r.stderr).to.equal(0);
      const s = lastJson(r.stdout);
      expect(s.members.map((m: { id: string; addr: string }) => `${m.id}@${m.addr}`)).to.include(`ps-9@${ps.addr}`);
      expect(s.chief).to.equal(null);
      expect(s.shard_map).to.deep.include({ version: 1, num_buckets: 64 });
      // buddy: the PS holding its replica under `ps.replication: buddy` (issue 17); none here.
      expect(s.shard_map.ps).to.deep.equal([{ id: 9, addr: ps.addr, buckets: 64, buddy: null }]);
    } finally {
      await ps.stop();
    }
  });

  it('a PS stopped with SIGTERM revokes its lease at once and exits 0', async () => {
    const ps = await spawnPs({ args: ['--etcd', etcd.url, '--job', job, '--id', 'ps-8'] });
    expect((await observer.list('ps')).map((m) => m.id)).to.include('ps-8');
    expect(await ps.stop()).to.equal(0);
    expect((await observer.list('ps')).map((m) => m.id)).to.not.include('ps-8');
  });

  it('issue 18: a --shards 2 process registers one member per shard, serves each shard its own rows, gives each its own disk tier, labels /metrics by shard, and leaves etcd on SIGTERM', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-psshards-'));
    const log = path.join(dir, 'ps.log');
    const tier = path.join(dir, 'tier');
    const ps = await spawnPs({ shards: 2, logFile: log, args: ['--etcd', etcd.url, '--job', job, '--id', 'ps-1', '--lease-ttl', '2', '--tier-dir', tier] });
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
      // Each shard its own disk tier: a table over its one-slab budget (65,536 rows) spills into DIR/shard-<k>.
      await ps2.admin.createTable({ name: 'spilled', kind: 'embedding', dim: 4, optimizer: { kind: 'sgd', lr: 1 }, eviction: { maxRows: 65_536, spill: true } });
      const many = Uint32Array.from({ length: 2 * SPILL_IDS }, (_, i) => (i % 2 === 0 ? i + 1 : 0));
      // In requests of 40,000 ids: a request's rows must fit the budget at once.
      for (let i = 0; i < many.length; i += 80_000) await ps2.data.pull('spilled', many.subarray(i, i + 80_000), 4);
      const spilledRows = (await ps2.admin.stats()).map((st) => st.tables.find((t) => t.name === 'spilled')!.rows);
      expect(fs.readdirSync(tier).sort()).to.deep.equal(['shard-0', 'shard-1']);

      const url = /"metricsUrl":"([^"]+)"/.exec(fs.readFileSync(log, 'utf8'))![1];
      const text = await (await fetch(url)).text();
      for (const [k, id] of [[0, 'ps-2'], [1, 'ps-3']] as const) {
        const line = text.split('\n').find((l) => l.startsWith('tessera_ps_rows_total{') && l.includes('op="push"') && l.includes(`shard="${k}"`));
        expect(line, `push rows of shard ${k}`).to.include(`id="${id}"`);
        expect(Number(line!.split(' ').pop())).to.equal(rows[k]);
      }
      for (const k of [0, 1]) {
        const spills = text.split('\n').find((l) => l.startsWith('tessera_ps_tier_spills_total{') && l.includes(`shard="${k}"`));
        expect(Number(spills?.split(' ').pop()), `rows shard ${k} spilled (${spilledRows[k]} resident)`).to.be.greaterThan(0);
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

  it('issue 18: a lost lease fences only its own shard, which re-registers; the other shard is never fenced', async () => {
    const ps = spawnNode(TESSERA_BIN, ['ps', '--port', '0', '--shards', '2', '--etcd', etcd.url, '--job', job, '--id', 'ps-2', '--lease-ttl', '2']);
    try {
      await ps.waitForLine(/^ps listening /, 20_000);
      const kv = (await client.namespace(jobPrefix(job)).get(memberKey('ps', 'ps-5')).exec()).kvs[0];
      await client.leaseClient.leaseRevoke({ ID: kv.lease });
      const fenced = JSON.parse(await ps.waitForLine(/"fenced":true/, 20_000));
      expect([fenced.nodeId, fenced.shard]).to.deep.equal(['ps-5', 1]);
      const unfenced = JSON.parse(await ps.waitForLine(/"fenced":false/, 20_000));
      expect([unfenced.nodeId, unfenced.shard]).to.deep.equal(['ps-5', 1]);
      expect(ps.lines.filter((l) => l.includes('"fenced":true')), 'fence lines').to.have.length(1);
      expect((await observer.list('ps')).map((m) => m.id).sort()).to.deep.equal(['ps-4', 'ps-5']);
    } finally {
      ps.proc.kill('SIGTERM');
      await ps.exited;
    }
  });
});
