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

/** Issue #4: PS processes register in etcd under a lease; a second PS with the same id is refused. */
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
      expect(s.shard_map.ps).to.deep.equal([{ id: 9, addr: ps.addr, buckets: 64 }]);
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
});
