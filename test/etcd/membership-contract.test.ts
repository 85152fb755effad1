/**
 * The Membership contract, run against EtcdMembership on a real etcd: listing and watching,
 * the watch starting after its snapshot, duplicate ids, lease loss and re-registration, expiry
 * of a dead process, and bad roles and ids. Each case is written against the interface (a
 * fixture supplies a second process and a way to take a lease away), so every implementation
 * of Membership must pass the same cases.
 */
import { expect } from 'chai';
import { Etcd3 } from 'etcd3';
import { TesseraError } from '../../src/common/errors';
import { silentLogger } from '../../src/common/logger';
import { EtcdMembership } from '../../src/membership/etcd-membership';
import type { Role } from '../../src/common/roles';
import { jobPrefix, memberKey } from '../../src/membership/keys';
import { DuplicateMemberError, Membership, MembershipEvent } from '../../src/membership/membership';
import { EtcdHandle, requireEtcd, startEtcd } from '../helpers/etcd';
import { createDoomedClient, EventLog, once } from '../helpers/etcd-fixtures';

/** Member lease TTL in the etcd run: short, so a dead process drops out in ~2.5 s. */
const TEST_TTL_S = 2;
/**
 * Wait bound for an event caused by lease expiry: TTL + etcd's 0.5 s expiry sweep + a wide margin
 * for a loaded CI machine. Only a failing test ever waits this long.
 */
const EXPIRY_WAIT_MS = TEST_TTL_S * 1000 + 6_000;
/** Wait bound for an event etcd delivers at once (a put/delete seen by a watch): normally < 50 ms. */
const EVENT_WAIT_MS = 5_000;

/** What one implementation supplies to the contract. */
interface Fixture {
  membership: Membership;
  /** Another process on the same backend; `kill()` makes it die without closing anything. */
  peer(): Promise<{ membership: Membership; kill(): Promise<void> }>;
  /** Takes away the lease of role/id behind its owner's back. */
  loseLease(role: Role, id: string): Promise<void>;
  teardown(): Promise<void>;
}

function membershipContract(makeFixture: () => Promise<Fixture>): void {
  let fx: Fixture;
  beforeEach(async () => {
    fx = await makeFixture();
  });
  afterEach(async () => fx.teardown());

  it('lists and watches a registration, and removes it on close()', async () => {
    const watcherSide = await fx.peer();
    const log = new EventLog<MembershipEvent>();
    const w = await watcherSide.membership.watch('worker', log.push);
    expect(w.snapshot).to.deep.equal([]);
    const reg = await fx.membership.register('worker', 'w-1', '127.0.0.1:7001');
    expect(reg.incarnation).to.match(/^[0-9a-f]{16}$/);
    const added = await log.waitFor((e) => e.type === 'add', EVENT_WAIT_MS, 'add');
    expect(added).to.deep.include({ role: 'worker', id: 'w-1' });
    expect(added.member).to.deep.include({ addr: '127.0.0.1:7001', incarnation: reg.incarnation, pid: process.pid });
    const [listed] = await fx.membership.list('worker');
    expect(listed).to.deep.equal(added.member);
    expect(await fx.membership.list('ps')).to.deep.equal([]);
    await reg.close();
    const removed = await log.waitFor((e) => e.type === 'remove', EVENT_WAIT_MS, 'remove');
    expect(removed).to.deep.include({ role: 'worker', id: 'w-1' });
    expect(await fx.membership.list()).to.deep.equal([]);
    await w.stop();
  });

  it('starts the watch after the snapshot: racing registrations appear exactly once', async () => {
    await fx.membership.register('worker', 'w-0', '127.0.0.1:7000');
    const log = new EventLog<MembershipEvent>();
    const ids = ['w-1', 'w-2', 'w-3', 'w-4'];
    // The watch's initial read and these registrations race; each must land in exactly one place.
    const [w] = await Promise.all([
      fx.membership.watch('worker', log.push),
      ...ids.map((id, i) => fx.membership.register('worker', id, `127.0.0.1:${7001 + i}`)),
    ]);
    // Registered after watch() resolved, so it must come as exactly one add event.
    await fx.membership.register('worker', 'w-last', '127.0.0.1:7009');
    // Watch events arrive in revision order: once w-last is seen, every earlier event has been.
    await log.waitFor((e) => e.id === 'w-last', EVENT_WAIT_MS, 'w-last add');
    const seen = [...w.snapshot.map((m) => m.id), ...log.events.map((e) => e.id)].sort();
    expect(seen).to.deep.equal(['w-0', ...ids, 'w-last'].sort());
    expect(log.events.every((e) => e.type === 'add')).to.equal(true);
    expect(log.events.filter((e) => e.id === 'w-last')).to.have.length(1);
    expect(w.snapshot.map((m) => m.id)).to.include('w-0');
    await w.stop();
  });

  it('refuses a duplicate id with a clear message, and accepts it again after close()', async () => {
    const other = await fx.peer();
    const first = await fx.membership.register('worker', 'w-1', '127.0.0.1:7001');
    const err = await other.membership.register('worker', 'w-1', '127.0.0.1:7002').then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(DuplicateMemberError);
    expect((err as TesseraError).code).to.equal('TESSERA_ERR_CONFIG');
    expect((err as Error).message).to.match(
      new RegExp(`^worker w-1 is already registered by pid ${process.pid} on .+ at addr 127\\.0\\.0\\.1:7001 .*; stop it or pick another --id$`));
    await first.close();
    const again = await other.membership.register('worker', 'w-1', '127.0.0.1:7002');
    expect(again.incarnation).to.not.equal(first.incarnation);
    expect((await fx.membership.list('worker')).map((m) => m.addr)).to.deep.equal(['127.0.0.1:7002']);
  });

  it('on lease loss emits lost, then re-registers under a new incarnation', async () => {
    const reg = await fx.membership.register('ps', 'ps-0', '127.0.0.1:7100');
    const log = new EventLog<MembershipEvent>();
    const w = await fx.membership.watch('ps', log.push);
    const order: string[] = [];
    const lost = once<{ incarnation: string }>((cb) => reg.on('lost', (ev) => (order.push('lost'), cb(ev))), EXPIRY_WAIT_MS, 'lost');
    const back = once<{ incarnation: string; previous: string }>(
      (cb) => reg.on('reregistered', (ev) => (order.push('reregistered'), cb(ev))), EXPIRY_WAIT_MS, 'reregistered');
    const before = reg.incarnation;
    await fx.loseLease('ps', 'ps-0');
    expect((await lost).incarnation).to.equal(before);
    const ev = await back;
    expect(ev.previous).to.equal(before);
    expect(ev.incarnation).to.not.equal(before);
    expect(reg.incarnation).to.equal(ev.incarnation);
    expect(order).to.deep.equal(['lost', 'reregistered']);
    await log.waitFor((e) => e.type === 'add' && e.member?.incarnation === ev.incarnation, EVENT_WAIT_MS, 're-add');
    expect(log.events.map((e) => e.type)).to.deep.equal(['remove', 'add']);
    expect((await fx.membership.list('ps'))[0].incarnation).to.equal(ev.incarnation);
    await w.stop();
  });

  it('drops a dead process once its lease expires, freeing its id', async () => {
    const doomed = await fx.peer();
    await doomed.membership.register('worker', 'w-dead', '127.0.0.1:7200');
    const log = new EventLog<MembershipEvent>();
    const w = await fx.membership.watch('worker', log.push);
    expect(w.snapshot.map((m) => m.id)).to.deep.equal(['w-dead']);
    await doomed.kill();
    const removed = await log.waitFor((e) => e.type === 'remove', EXPIRY_WAIT_MS, 'remove after expiry');
    expect(removed.id).to.equal('w-dead');
    expect(removed.member?.addr).to.equal('127.0.0.1:7200');
    await fx.membership.register('worker', 'w-dead', '127.0.0.1:7201');
    await w.stop();
  });

  it('rejects bad roles and ids, naming the field', async () => {
    const bad = (p: Promise<unknown>) => p.then(() => 'resolved', (e: Error) => e.message);
    expect(await bad(fx.membership.register('boss' as Role, 'x', 'h:1'))).to.match(/^role must be one of ps, worker, chief/);
    expect(await bad(fx.membership.register('worker', 'a/b', 'h:1'))).to.match(/^id must be 1-128 characters/);
    expect(await bad(fx.membership.register('worker', '..', 'h:1'))).to.match(/^id must be/);
  });
}

describe('Membership contract: EtcdMembership (real etcd)', function () {
  // One etcd for the suite (~0.2 s to start); the expiry test alone waits one 2 s TTL.
  this.timeout(30_000);
  let etcd: EtcdHandle | undefined;
  let jobSeq = 0;

  before(async function () {
    requireEtcd(this);
    etcd = await startEtcd();
  });
  after(async () => etcd?.stop());

  membershipContract(async () => {
    const job = `contract-${++jobSeq}`; // a fresh job (key prefix) per test
    const admin = new Etcd3({ hosts: etcd!.url });
    const make = (client: Etcd3) => new EtcdMembership({ client, job, logger: silentLogger(), leaseTtlS: TEST_TTL_S });
    const cleanups: (() => Promise<void>)[] = [];
    const membership = make(admin);
    return {
      membership,
      peer: async () => {
        const { client, proxy } = await createDoomedClient(etcd!.url);
        const m = make(client);
        cleanups.push(async () => {
          await m.close();
          client.close();
          await proxy.cut();
        });
        return { membership: m, kill: () => proxy.cut() };
      },
      loseLease: async (role, id) => {
        const kv = (await admin.namespace(jobPrefix(job)).get(memberKey(role, id)).exec()).kvs[0];
        await admin.leaseClient.leaseRevoke({ ID: kv.lease });
      },
      teardown: async () => {
        await membership.close();
        for (const c of cleanups) await c();
        admin.close();
      },
    };
  });
});
