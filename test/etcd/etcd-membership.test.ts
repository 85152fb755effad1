/** EtcdMembership specifics the contract cannot see: the raw keys, lease hygiene, JSON logs. */
import { expect } from 'chai';
import { Etcd3 } from 'etcd3';
import { silentLogger } from '../../src/common/logger';
import { EtcdMembership } from '../../src/membership/etcd-membership';
import { etcdForSuite } from '../helpers/etcd';
import { createLogSink } from '../helpers/log-sink';

/** Short member TTL, as in the contract suite. */
const TEST_TTL_S = 2;
/** Bound for a log line that follows a lease revoke: keepalives run every TTL/3 (~0.7 s). */
const LOG_WAIT_MS = 8_000;

describe('EtcdMembership (real etcd)', function () {
  // One etcd (~0.2 s to start); only the stall test outlasts a TTL (it blocks for 2 x TTL + 1 s).
  this.timeout(30_000);
  const etcd = etcdForSuite();
  let client: Etcd3;
  let membership: EtcdMembership | undefined;

  beforeEach(() => {
    client = new Etcd3({ hosts: etcd.url });
  });
  afterEach(async () => {
    await membership?.close();
    membership = undefined;
    client.close();
  });

  it('writes members/<role>/<id> under /tessera/<job>/, leased, with a JSON value', async () => {
    membership = new EtcdMembership({ client, job: 'layout', logger: silentLogger(), leaseTtlS: TEST_TTL_S });
    const reg = await membership.register('worker', 'w-1', '10.0.0.7:7100');
    const kv = (await client.get('/tessera/layout/members/worker/w-1').exec()).kvs[0];
    const value = JSON.parse(kv.value.toString()) as Record<string, unknown>;
    expect(Object.keys(value).sort()).to.deep.equal(['addr', 'host', 'incarnation', 'pid', 'startedAt']);
    expect(value).to.deep.include({ addr: '10.0.0.7:7100', incarnation: reg.incarnation, pid: process.pid });
    expect(new Date(value.startedAt as string).toISOString()).to.equal(value.startedAt);
    const ttl = await client.leaseClient.leaseTimeToLive({ ID: kv.lease });
    expect(Number(ttl.grantedTTL)).to.equal(TEST_TTL_S);
  });

  it('close() revokes its leases: keys vanish at once and no keepalive is left running', async () => {
    membership = new EtcdMembership({ client, job: 'hygiene', logger: silentLogger(), leaseTtlS: TEST_TTL_S });
    await membership.register('ps', 'ps-0', '127.0.0.1:7000');
    await membership.register('ps', 'ps-1', '127.0.0.1:7001');
    const leases = (await client.getAll().prefix('/tessera/hygiene/').exec()).kvs.map((kv) => kv.lease);
    expect(leases).to.have.length(2);
    await membership.close();
    // No waiting: a revoked lease's keys are gone in the same etcd revision.
    expect(await client.getAll().prefix('/tessera/hygiene/').keys()).to.deep.equal([]);
    for (const ID of leases) expect((await client.leaseClient.leaseTimeToLive({ ID })).TTL).to.equal('-1');
    // etcd3's client.close() alone would have left these keepalives renewing the leases.
    const live = (await client.leaseClient.leaseLeases()).leases.map((l) => l.ID);
    expect(live.filter((id) => leases.includes(id))).to.deep.equal([]);
    await membership.register('ps', 'ps-0', '127.0.0.1:7000').then(() => expect.fail('registered after close()'), (e: Error) => {
      expect(e.message).to.equal('membership is closed');
    });
  });

  it('logs the lease loss and the re-registration as JSON', async () => {
    const sink = createLogSink('info');
    membership = new EtcdMembership({ client, job: 'logs', logger: sink.logger, leaseTtlS: TEST_TTL_S });
    const reg = await membership.register('ps', 'ps-0', '127.0.0.1:7000');
    const first = reg.incarnation;
    const kv = (await client.get('/tessera/logs/members/ps/ps-0').exec()).kvs[0];
    await client.leaseClient.leaseRevoke({ ID: kv.lease });
    const isReregistered = (l: Record<string, unknown>) => l.msg === 'membership re-registered with a new incarnation';
    await sink.waitFor(isReregistered, 1, LOG_WAIT_MS);
    const lost = sink.lines.findIndex((l) => l.msg === 'membership lease lost; fencing and re-registering');
    const back = sink.lines.findIndex(isReregistered);
    expect(lost).to.be.greaterThan(-1).and.lessThan(back);
    expect(sink.lines[lost]).to.deep.include({ component: 'membership', job: 'logs', role: 'ps', id: 'ps-0', incarnation: first, level: 40 });
    expect(sink.lines[back]).to.deep.include({ previous: first, incarnation: reg.incarnation });
  });

  it('issue 17: an event loop stalled past twice the lease TTL gives one lease loss and one re-registration, not a second that finds its own new key and gives up', async () => {
    membership = new EtcdMembership({ client, job: 'stall', logger: silentLogger(), leaseTtlS: TEST_TTL_S });
    const reg = await membership.register('ps', 'ps-0', '127.0.0.1:7000');
    const first = reg.incarnation;
    const seen: string[] = [];
    reg.on('lost', () => {
      seen.push('lost');
      // What a PS does on a loss takes a while on a loaded machine; etcd3 meanwhile reports the
      // same lease lost a second time (its keepalive retry, 100 ms after the first report).
      block(300);
    });
    reg.on('failed', () => seen.push('failed'));
    const back = new Promise<void>((resolve) => reg.on('reregistered', () => { seen.push('reregistered'); resolve(); }));
    block((2 * TEST_TTL_S + 1) * 1000); // the event loop stalls: no keepalive goes out
    await back;
    const key = '/tessera/stall/members/ps/ps-0';
    const holder = JSON.parse((await client.get(key).string())!) as { incarnation: string };
    expect(holder.incarnation, 'the key is held by the new incarnation').to.equal(reg.incarnation).and.not.equal(first);
    // One more round trip after the re-registration, in which a second loop would have been refused.
    await client.get(key).string();
    expect(seen).to.deep.equal(['lost', 'reregistered']);
  });

  it('rejects a bad job name or TTL, naming the field', () => {
    expect(() => new EtcdMembership({ client, job: 'a/b', logger: silentLogger() })).to.throw(/^job must be 1-128 characters/);
    expect(() => new EtcdMembership({ client, job: 'ok', logger: silentLogger(), leaseTtlS: 0.5 })).to.throw(/^leaseTtlS must be/);
  });
});

/** Blocks the event loop for `ms` (a stalled process: no timer, keepalive or I/O runs). */
function block(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
