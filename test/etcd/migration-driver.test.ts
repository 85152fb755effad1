/**
 * Issue 17: the chief's migration driver over a real etcd and real PS gRPC servers (port 0). A PS
 * that registers is given buckets, a PS asked to drain gives all of its away, and a chief that
 * stops mid-migration leaves a record its successor rolls back (before the commit) or forward
 * (after it). Pushes land between the copy and the tails; in every case the rows and optimizer
 * state end bit-equal to one PS that took the same pushes and never migrated.
 */
import { expect } from 'chai';
import { ERROR_CODES, TesseraError } from '../../src/common/errors';
import { silentLogger } from '../../src/common/logger';
import { GrpcMigrationPeers } from '../../src/client/migration-peers';
import { PsClient } from '../../src/client/ps-client';
import { MigrationDriver, MigrationPeers } from '../../src/chief/migration-driver';
import { EtcdJobStore } from '../../src/control/etcd-job-store';
import { EtcdMembership } from '../../src/membership/etcd-membership';
import { isPlannedExit } from '../../src/chief/ps-guard';
import { drainKey, jobPrefix } from '../../src/membership/keys';
import { LeaderElection } from '../../src/membership/leader';
import { ShardMapStore } from '../../src/membership/shard-map-store';
import type { PsServer } from '../../src/ps/ps-server';
import type { TableSpec } from '../../src/ps/store/table-spec';
import { planShardMap, ShardMap } from '../../src/sharding/shard-map';
import { denseBucket } from '../../src/sharding/dense-bucket';
import { CkptCluster, ckptCluster, denseBits, dumpTable, gradsFor, idRange, trainRound } from '../helpers/checkpoint';
import { etcdClientPerTest } from '../helpers/etcd';
import { joiningPs } from '../helpers/migration';
import { runTessera } from '../helpers/tessera';

/** Dense tables: two that move when a third PS joins two, two that ps-2 of three holds (drained), one that stays. */
const DENSE = (() => {
  const ps = (n: number) => Array.from({ length: n }, (_, id) => ({ id, addr: `ps-${id}:1` }));
  const v1 = planShardMap(ps(2));
  const v2 = planShardMap(ps(3), { previous: v1 });
  const three = planShardMap(ps(3));
  const names = Array.from({ length: 200 }, (_, k) => `d${k}`);
  return [
    ...names.filter((d) => denseOwner(v2, d) === 2).slice(0, 2),
    ...names.filter((d) => denseOwner(three, d) === 2).slice(0, 2),
    ...names.filter((d) => denseOwner(v2, d) !== 2 && denseOwner(three, d) !== 2).slice(0, 1),
  ];
})();
const TABLES: TableSpec[] = [
  { name: 'emb', kind: 'embedding', dim: 8, optimizer: { kind: 'adagrad', lr: 0.05 }, seed: 1 },
  { name: 'half', kind: 'embedding', dim: 4, optimizer: { kind: 'adam', lr: 0.01 }, weightFormat: 'f16', seed: 2 },
  ...DENSE.map((name): TableSpec => ({ name, kind: 'dense', size: 6, optimizer: { kind: 'adam', lr: 0.01 } })),
];

/** Round `r`: more ids each round, so pulls during a migration create rows too; every dense table pushed. */
async function round(client: PsClient, r: number): Promise<void> {
  await trainRound(client, 'emb', idRange(0, 400 + 150 * r), 8, r);
  await trainRound(client, 'half', idRange(50_000, 200 + 80 * r), 4, r);
  for (const d of DENSE) await client.data.pushDense(d, gradsFor(1, 6, r));
  await client.data.flush();
}

/** The PS id holding dense table `name` in `map`. */
function denseOwner(map: ShardMap, name: string): number {
  return map.ps[map.owner[denseBucket(name, map.numBuckets)]].id;
}

const never = new Promise<never>(() => undefined);

describe('chief migration driver on real etcd and PS (issue 17)', function () {
  this.timeout(60_000);
  const etcd = etcdClientPerTest();
  let seq = 0;
  let job: string;
  let cluster: CkptCluster;
  let reference: CkptCluster;
  let membership: EtcdMembership;
  let shardMaps: ShardMapStore;
  const extra: PsServer[] = [];
  const clients: PsClient[] = [];
  /** The client of the map now published; the hook trains through it. */
  let current: PsClient;
  let r = 0;
  /** Every BeginMigration the driver sent: the source's address and the id it named the source by. */
  const begun: Array<{ addr: string; sourceId?: number }> = [];

  /** One training round on the cluster (through `current`) and on the reference. */
  const train = () => Promise.all([round(current, r), round(reference.client, r++)]);

  function clientFor(map: ShardMap): PsClient {
    const c = new PsClient({ shardMap: map, logger: silentLogger(), maxInflightPushes: 0 });
    clients.push(c);
    return c;
  }

  /**
   * The real peers, training a round after every unfenced round (pushes after the cut) unless a
   * fence is up (its pushes would wait for the commit, which waits for this round). Trains and
   * fences take turns on one chain, so the cluster and the reference see the same push order.
   * `stop`: the chief stops for good once `stop.fences` sources are fenced, or at the install of
   * the new map, and `stop.reached` resolves then.
   */
  function peers(stop?: { at: 'fence' | 'install'; fences?: number; reached: () => void }): MigrationPeers {
    const real = new GrpcMigrationPeers({ logger: silentLogger() });
    let chain: Promise<unknown> = Promise.resolve();
    let fenced = 0;
    const serial = <T>(fn: () => Promise<T>): Promise<T> => {
      const p = chain.then(fn);
      chain = p.catch(() => undefined);
      return p;
    };
    const trainUnlessFenced = () => serial(async () => { if (fenced === 0) await train(); });
    return {
      begin: async (addr, req) => {
        begun.push({ addr, sourceId: req.sourceId });
        const res = await real.begin(addr, req);
        await trainUnlessFenced();
        return res;
      },
      tail: async (addr, id, fence) => {
        if (!fence) {
          const res = await real.tail(addr, id, false);
          await trainUnlessFenced();
          return res;
        }
        const res = await serial(() => { fenced++; return real.tail(addr, id, true); });
        if (stop?.at === 'fence' && fenced === stop.fences) stop.reached();
        return stop?.at === 'fence' ? never : res;
      },
      end: async (addr, id, commit) => { fenced = 0; return real.end(addr, id, commit); },
      install: (map) => {
        if (stop?.at !== 'install' || map.version === 1) return real.install(map); // version 1: the targets' staging install
        stop.reached();
        return never;
      },
    };
  }

  /** A driver leading as `name` (its own election key guards its writes). */
  async function chief(name: string, stop?: Parameters<typeof peers>[0]) {
    const handle = await new LeaderElection({ client: etcd.client, job, logger: silentLogger(), ttlS: 5 }).campaign(name, name);
    const store = new EtcdJobStore({ client: etcd.client, job, logger: silentLogger(), leaderKey: await handle.key() });
    const prepare = async (map: ShardMap) => {
      const c = clientFor(map);
      for (const t of TABLES) await c.admin.createTable(t);
    };
    const driver = new MigrationDriver({ store, membership, peers: peers(stop), prepare, settled: async () => undefined, logger: silentLogger() });
    const reconcile = async () => driver.reconcile(await store.snapshot(), (await shardMaps.get())!);
    return { handle, store, driver, reconcile };
  }

  async function start(n: number): Promise<void> {
    job = `mig-${++seq}`;
    cluster = await ckptCluster(n, TABLES);
    reference = await ckptCluster(1, TABLES);
    membership = new EtcdMembership({ client: etcd.client, job, logger: silentLogger() });
    shardMaps = new ShardMapStore({ client: etcd.client, job, logger: silentLogger() });
    await shardMaps.publish(cluster.map, 0);
    for (const [i, s] of cluster.servers.entries()) await membership.register('ps', `ps-${i}`, s.addr);
    current = cluster.client;
    r = 0;
    begun.length = 0;
    for (let k = 0; k < 3; k++) await train();
  }

  /** A fresh PS (no tables, no map) registered as ps-<id>. */
  async function join(id: number): Promise<PsServer> {
    const s = await joiningPs([], 0, cluster.map.numBuckets);
    extra.push(s);
    await membership.register('ps', `ps-${id}`, s.addr);
    return s;
  }

  async function published(): Promise<ShardMap> {
    const map = (await shardMaps.get())!;
    current = clientFor(map);
    return map;
  }

  /** Rows, and each dense table on its owner in `map` (servers indexed by PS id), as on the reference; some dense table moved. */
  function expectAsReference(servers: PsServer[], map: ShardMap): void {
    for (const t of ['emb', 'half']) {
      const got = dumpTable(servers, t); // throws if two PS hold one row: the sources dropped theirs
      expect(got.size).to.be.greaterThan(0);
      expect(got).to.deep.equal(dumpTable(reference.servers, t));
    }
    for (const d of DENSE) expect(denseBits(servers, d, denseOwner(map, d)), `dense table ${d}`).to.equal(denseBits(reference.servers, d, 0));
    expect(DENSE.some((d) => denseOwner(map, d) !== denseOwner(cluster.map, d)), 'a dense table moved').to.equal(true);
  }

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await membership?.close();
    await Promise.all([cluster?.tearDown(), reference?.tearDown(), ...extra.splice(0).map((s) => s.stop())]);
  });

  it('a PS that registers gets the buckets planShardMap gives it: 2 -> 3, bit-equal to a PS that never migrated', async () => {
    await start(2);
    const c = await chief('chief-a');
    const joined = await join(2);
    expect(await c.reconcile()).to.equal(true);
    expect(r, 'training rounds during the migration').to.be.greaterThan(3);
    const map = await published();
    expect(map.version).to.equal(2);
    expect(map.ps.map((p) => p.id)).to.deep.equal([0, 1, 2]);
    expect((await c.store.snapshot()).migration).to.equal(undefined);
    expect(await c.reconcile()).to.equal(false); // balanced: nothing more to move
    await train();
    expect(joined.node.store.getEmbedding('emb').size).to.be.greaterThan(0);
    expectAsReference([...cluster.servers, joined], map);
    // ADR 0043: each source is named by its PS id, under which its dedup windows reach the target.
    expect(begun.map((b) => b.addr)).to.have.members(cluster.servers.map((s) => s.addr));
    for (const b of begun) expect(b.sourceId, b.addr).to.equal(cluster.map.ps.find((p) => p.addr === b.addr)!.id);
  });

  it('tessera ps drain: ps-2 gives every bucket away in two steps, is marked done, and is forgotten once gone', async () => {
    await start(3);
    const c = await chief('chief-a');
    expect(await c.store.requestDrain('ps-2')).to.equal(true);
    expect(await c.store.requestDrain('ps-2')).to.equal(false);
    // A record written by hand that names no PS number is skipped, never fatal to the chief.
    await etcd.client.namespace(jobPrefix(job)).put(drainKey('oops')).value(JSON.stringify({ id: 'oops', at: 'now', done: false }));
    expect((await runTessera(['status', '--etcd', etcd.url, '--job', job])).stdout).to.match(/drain ps-2: requested/);
    expect(await c.reconcile()).to.equal(true);
    await published();
    expect(await c.reconcile()).to.equal(true); // ps-2's buckets had two targets: one per step
    const map = await published();
    expect(map.ps.map((p) => p.id)).to.deep.equal([0, 1]);
    expect(c.driver.drained.has('ps-2'), 'not done while ps-2 still owns buckets').to.equal(false);
    expect(await c.reconcile()).to.equal(false);
    expect((await c.store.snapshot()).drains.get('ps-2')?.done).to.equal(true);
    // Issue 17: the chief knows ps-2's exit is planned (it then neither attaches again nor abandons a checkpoint).
    expect(isPlannedExit({ type: 'remove', role: 'ps', id: 'ps-2' }, map, c.driver.drained)).to.equal(true);
    const fresh = new MigrationDriver({ store: c.store, membership, peers: peers(), prepare: async () => undefined, settled: async () => undefined, logger: silentLogger() });
    expect(await fresh.reconcile(await c.store.snapshot(), map)).to.equal(false);
    expect(fresh.drained.has('ps-2'), 'a driver that did not record the drain (a new chief) reads it from etcd').to.equal(true);
    const drained = cluster.servers[2].node;
    expect(drained.ownedBuckets?.includes(1)).to.equal(false);
    expect(drained.store.getEmbedding('emb').size).to.equal(0);
    await train();
    expectAsReference(cluster.servers, map);
    await membership.close(); // every PS leaves; the drained one's record goes with it
    membership = new EtcdMembership({ client: etcd.client, job, logger: silentLogger() });
    await c.reconcile();
    expect([...(await c.store.snapshot()).drains.keys()]).to.deep.equal(['oops']);
    expect(c.driver.drained.has('ps-2'), 'forgotten with its record').to.equal(false);
  });

  it('a chief gone after the fence, before the commit: its successor rolls back, the old leader cannot commit, and the next plan completes', async () => {
    await start(2);
    let reached!: () => void;
    const stopped = new Promise<void>((res) => { reached = res; });
    const a = await chief('chief-a', { at: 'fence', fences: 2, reached });
    const joined = await join(2);
    void a.reconcile();
    await stopped; // both sources fenced, their last tails on the target
    const record = (await a.store.snapshot()).migration!;
    expect(record.phase).to.equal('copy');
    expect(joined.node.store.getEmbedding('emb').size).to.be.greaterThan(0);
    const status = await runTessera(['status', '--etcd', etcd.url, '--job', job]);
    expect(status.stdout).to.match(/migration mig-v2 \(copy, since [^)]+\): \d+ of 4096 buckets moving, v1 → v2: ps 0 → ps 2 \(\d+\), ps 1 → ps 2 \(\d+\)/);
    await a.handle.resign();
    const err = await a.store.commitMigration(record).then(() => null, (e: unknown) => e);
    expect((err as TesseraError).code).to.equal(ERROR_CODES.NOT_LEADER);
    const b = await chief('chief-b');
    expect(await b.reconcile()).to.equal(false); // rolled back: the map is still v1
    expect((await b.store.snapshot()).migration).to.equal(undefined);
    expect((await shardMaps.get())!.version).to.equal(1);
    expect(joined.node.store.getEmbedding('emb').size).to.equal(0);
    await train(); // pushes to the moving buckets are taken again (the fence is lifted)
    expect(await b.reconcile()).to.equal(true);
    const map = await published();
    await train();
    expectAsReference([...cluster.servers, joined], map);
  });

  it('a chief gone after the commit: its successor installs the map and drops the moved rows at the sources', async () => {
    await start(2);
    let reached!: () => void;
    const stopped = new Promise<void>((res) => { reached = res; });
    const a = await chief('chief-a', { at: 'install', reached });
    const joined = await join(2);
    void a.reconcile();
    await stopped; // committed: the map is v2 in etcd, installed nowhere yet
    expect((await a.store.snapshot()).migration?.phase).to.equal('commit');
    await a.handle.resign();
    const b = await chief('chief-b');
    expect(await b.reconcile()).to.equal(true);
    expect((await b.store.snapshot()).migration).to.equal(undefined);
    const map = await published();
    expect(map.version).to.equal(2);
    await train();
    expectAsReference([...cluster.servers, joined], map);
  });
});
