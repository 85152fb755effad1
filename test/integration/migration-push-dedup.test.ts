/**
 * Issue 17, the dedup window moves with migrated buckets. A push whose answer a PS never sent
 * is re-sent by its client; when the buckets it touched have migrated meanwhile and the PS it
 * was sent to is gone, the re-send reaches the new owner, which must acknowledge it, not apply
 * it twice. Three cases on real PS servers (port 0), the first PS behind a TCP proxy that holds
 * its answers:
 * - a drained source: PS 0 applies a step unanswered, migrates all its buckets to PS 1 and
 *   exits; the client re-sends the step to PS 1;
 * - a failover followed at once by a migration: PS 0 applies and replicates a step unanswered
 *   and dies, its buddy PS 1 is promoted and moves those buckets on to PS 2 before the client
 *   re-sends; the client re-sends to PS 2;
 * - a drained source, then its target killed: PS 0 applies a step unanswered and is drained
 *   into PS 1, which replicates to its buddy PS 2 and dies before the client re-sends; PS 2 is
 *   promoted and the client re-sends to it (the window PS 1 inherited must reach PS 2).
 * Every way the pushes the PS applied equal the pushes the client saw acknowledged, and every
 * row and the dense table equal, bit for bit, one PS that took each step once.
 */
import { expect } from 'chai';
import { GrpcMigrationPeers } from '../../src/client/migration-peers';
import { PsClient } from '../../src/client/ps-client';
import { GrpcReplicationPeers } from '../../src/client/replication-peers';
import { silentLogger } from '../../src/common/logger';
import { startPsServer, PsServer } from '../../src/ps/ps-server';
import { inheritedClientId } from '../../src/ps/replication/applied-pushes';
import type { TableSpec } from '../../src/ps/store/table-spec';
import { failoverMap, withBuddies } from '../../src/sharding/buddies';
import { denseBucket } from '../../src/sharding/dense-bucket';
import { bucketsOwnedBy, planShardMap, ShardMap } from '../../src/sharding/shard-map';
import { replicationCall } from '../../src/wire/replication-client';
import { CkptCluster, ckptCluster, dumpTable } from '../helpers/checkpoint';
import { countingWorker, psZeroSteps, Step } from '../helpers/held-push';
import { joiningPs } from '../helpers/migration';
import { TcpProxy } from '../helpers/tcp-proxy';
import { until } from '../helpers/until';

const DIM = 8;
const EMB: TableSpec = { name: 'emb', kind: 'embedding', dim: DIM, optimizer: { kind: 'adagrad', lr: 0.05 }, initializer: { kind: 'uniform', scale: 0.05 }, seed: 1 };
const DENSE_SIZE = 6;

const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

describe('a push applied unanswered before its buckets migrated is acknowledged by their new owner, not applied twice (issue 17)', function () {
  this.timeout(90_000);
  const servers: PsServer[] = [];
  const clients: PsClient[] = [];
  let proxy: TcpProxy | undefined;
  let reference: CkptCluster | undefined;
  const peers = new GrpcMigrationPeers({ logger: silentLogger() });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await proxy?.close();
    await Promise.all([...servers.splice(0).map((s) => s.stop()), reference?.tearDown()]);
    proxy = reference = undefined;
  });

  /** PS 0 behind the proxy and PS 1; step `r` pushes PS 0's ids of `emb` and a dense table PS 0 holds. */
  async function setUp() {
    const [ps0, ps1] = await Promise.all([0, 1].map(() => startPsServer({ port: 0, maxRequestBytes: 64 << 20, logger: silentLogger() })));
    servers.push(ps0, ps1);
    const front = (proxy = await TcpProxy.start(ps0.addr));
    const v1 = withBuddies(planShardMap([{ id: 0, addr: front.addr }, { id: 1, addr: ps1.addr }]), new Map([[0, 1], [1, 0]]));
    const { dense, step } = psZeroSteps(v1, DIM, DENSE_SIZE);
    const admin = track(new PsClient({ shardMap: v1, logger: silentLogger() }));
    await admin.admin.installShardMap();
    for (const t of [EMB, dense]) await admin.admin.createTable(t);
    ps1.node.createTable(dense); // a migrated or promoted dense table loads only into one the PS has
    const world = { published: v1 as ShardMap, acked: 0 }; // acked: push requests some PS answered, on the wire
    const worker = track(countingWorker(v1, () => world.published, world));
    await worker.waitReady(); // connected before the proxy holds answers (the handshake is one)
    return { ps0, ps1, front, v1, dense, step, worker, world };
  }

  /** Copies and fences `buckets` from `source` (PS id `sourceId`) to `target`, as the chief's driver does. */
  async function migrate(id: string, source: PsServer, sourceId: number, target: PsServer, buckets: number[], fromVersion: number) {
    await peers.begin(source.addr, { migrationId: id, buckets, targetAddr: target.addr, shardMapVersion: fromVersion, sourceId });
    await peers.tail(source.addr, id, true);
  }

  /**
   * Publishes `map`, then PS 0 leaves: the client's held step 1 fails there and is re-sent by
   * `map`; step 2 follows, and both are answered.
   */
  async function resendBy(map: ShardMap, s: Pick<Awaited<ReturnType<typeof setUp>>, 'front' | 'ps0' | 'worker' | 'world' | 'step'>) {
    s.world.published = map;
    await s.front.close();
    await s.ps0.stop();
    await s.worker.data.pushStep(s.step(2).sparse, s.step(2).dense);
    await s.worker.data.flush();
    expect(s.worker.map.version, 'the worker routes by the newest map').to.equal(map.version);
  }

  /** Applied = acknowledged, and `owners` hold exactly the rows of one PS that took steps 1 and 2 once. */
  async function expectOnce(owners: PsServer[], everyPs: PsServer[], acked: number, dense: TableSpec, step: (r: number) => Step) {
    const applied = everyPs.reduce((n, s) => n + s.node.stats().counters.pushes, 0);
    expect(acked, 'two steps of two requests, each acknowledged once').to.equal(4);
    expect(applied, 'pushes the PS applied = pushes the client saw acknowledged').to.equal(acked);
    reference = await ckptCluster(1, [EMB, dense]);
    for (const r of [1, 2]) await reference.client.data.pushStep(step(r).sparse, step(r).dense);
    await reference.client.data.flush();
    expect(dumpTable(owners, 'emb')).to.deep.equal(dumpTable(reference.servers, 'emb'));
    const holder = owners.find((s) => s.node.ownedBuckets?.[denseBucket(dense.name, 4096)] === 1)!;
    expect(bits(holder.node.store.getDense(dense.name).values)).to.equal(bits(reference.servers[0].node.store.getDense(dense.name).values));
  }

  it('a drained source that applied a step unanswered and left: the re-sent step is a duplicate at the new owner', async () => {
    const { ps0, ps1, front, v1, dense, step, worker, world } = await setUp();
    front.holdAnswers();
    await worker.data.pushStep(step(1).sparse, step(1).dense);
    await until(() => ps0.node.stats().counters.pushes === 2, 'PS 0 to apply step 1');

    // Drain PS 0: all its buckets to PS 1, the map without PS 0 installed, then PS 0 exits.
    await migrate('mig-v2', ps0, 0, ps1, bucketsOwnedBy(v1, 0), 1);
    const v2 = planShardMap([{ id: 1, addr: ps1.addr }], { previous: v1 });
    ps0.node.setShardMap(v2.version, v2.numBuckets, []);
    ps1.node.setShardMap(v2.version, v2.numBuckets, bucketsOwnedBy(v2, 0));
    for (const s of [ps0, ps1]) await peers.end(s.addr, 'mig-v2', true);
    await resendBy(v2, { front, ps0, worker, world, step });
    expect(ps1.node.dedup.duplicates, 'step 1, re-sent to the new owner, was acknowledged from the migrated window').to.equal(2);
    await expectOnce([ps1], [ps0, ps1], world.acked, dense, step);
  });

  it('a failover followed at once by a migration: the re-sent step is a duplicate at the buckets\' second new owner', async () => {
    const { ps0, ps1, front, v1, dense, step, worker, world } = await setUp();
    const replication = new GrpcReplicationPeers();
    await replication.configure(ps1.addr, { selfId: 1, buddy: null, primaries: [0], shardMapVersion: 1 });
    await replication.configure(ps0.addr, { selfId: 0, buddy: { id: 1, addr: ps1.addr }, primaries: [], shardMapVersion: 1 });
    front.holdAnswers();
    await worker.data.pushStep(step(1).sparse, step(1).dense);
    await until(() => ps0.node.stats().counters.pushes === 2, 'PS 0 to apply step 1');
    await until(async () => (await replicationCall<{ lagSeconds: number }>(ps0.addr, 'ReplicationStatus', {})).lagSeconds === 0, 'the buddy to hold step 1');

    // PS 0 dies unanswered; its buddy is promoted (v2), then PS 0's buckets move on to a new PS 2 (v3).
    await front.close();
    await ps0.stop();
    const moved = bucketsOwnedBy(v1, 0);
    const promoted = await replication.promote(ps1.addr, 0, moved);
    expect(promoted.identities, 'the replica handed over the identities of step 1').to.be.at.least(2);
    const v2 = withBuddies(failoverMap(v1, new Set([0])), new Map());
    ps1.node.setShardMap(v2.version, v2.numBuckets, bucketsOwnedBy(v2, 0));
    const ps2 = await joiningPs([EMB, dense], v2.version, v2.numBuckets);
    servers.push(ps2);
    await migrate('mig-v3', ps1, 1, ps2, moved, 2);
    const owner = Uint16Array.from(v2.owner, (_, b) => (v1.owner[b] === 0 ? 1 : 0));
    const v3: ShardMap = { version: 3, numBuckets: v2.numBuckets, ps: [{ id: 1, addr: ps1.addr }, { id: 2, addr: ps2.addr }], owner };
    for (const [i, s] of [ps1, ps2].entries()) s.node.setShardMap(v3.version, v3.numBuckets, bucketsOwnedBy(v3, i));
    for (const s of [ps1, ps2]) await peers.end(s.addr, 'mig-v3', true);
    world.published = v3;
    await worker.data.pushStep(step(2).sparse, step(2).dense);
    await worker.data.flush();

    expect(worker.map.version, 'the worker routes by the map after the migration').to.equal(3);
    expect(ps2.node.dedup.duplicates, 'step 1, re-sent, was acknowledged from the window that moved with the buckets').to.equal(2);
    await expectOnce([ps1, ps2], [ps0, ps1, ps2], world.acked, dense, step);
  });

  // The target's buddy must hold the window the target inherited: a target killed after the
  // migration, before the client's re-send, is replaced by that buddy.
  it('a drained source, then its target killed: the re-sent step is a duplicate at the target\'s promoted buddy', async () => {
    const { ps0, ps1, front, v1, dense, step, worker, world } = await setUp();
    const ps2 = await joiningPs([EMB], 1, v1.numBuckets); // PS 1's buddy: owns nothing
    servers.push(ps2);
    const replication = new GrpcReplicationPeers();
    const configure = async (version: number) => {
      await replication.configure(ps2.addr, { selfId: 2, buddy: null, primaries: [1], shardMapVersion: version });
      await replication.configure(ps1.addr, { selfId: 1, buddy: { id: 2, addr: ps2.addr }, primaries: [], shardMapVersion: version });
    };
    await configure(1);
    front.holdAnswers();
    await worker.data.pushStep(step(1).sparse, step(1).dense);
    await until(() => ps0.node.stats().counters.pushes === 2, 'PS 0 to apply step 1');

    // Drain PS 0 into PS 1 (v2: PS 1 owns every bucket, PS 2 its buddy); the chief then configures
    // replication for v2, and PS 1's buddy catches up.
    await migrate('mig-v2', ps0, 0, ps1, bucketsOwnedBy(v1, 0), 1);
    const v2: ShardMap = { version: 2, numBuckets: v1.numBuckets, ps: [{ id: 1, addr: ps1.addr, buddy: 2 }, { id: 2, addr: ps2.addr, buddy: 1 }], owner: new Uint16Array(v1.numBuckets) };
    ps0.node.setShardMap(v2.version, v2.numBuckets, []);
    ps1.node.setShardMap(v2.version, v2.numBuckets, bucketsOwnedBy(v2, 0));
    ps2.node.setShardMap(v2.version, v2.numBuckets, []);
    for (const s of [ps0, ps1]) await peers.end(s.addr, 'mig-v2', true);
    await configure(2);
    await until(async () => (await replication.lagSeconds(ps1.addr)) === 0, 'PS 1\'s buddy to hold the migrated buckets');

    // PS 1 dies before the client re-sends; PS 2 is promoted (v3); PS 0 has left.
    await ps1.stop();
    const promoted = await replication.promote(ps2.addr, 1, bucketsOwnedBy(v2, 0));
    expect(promoted.identities, 'the replica handed over the window PS 1 inherited from PS 0').to.be.at.least(2);
    const v3 = failoverMap(v2, new Set([1]));
    ps2.node.setShardMap(v3.version, v3.numBuckets, bucketsOwnedBy(v3, 0));
    await resendBy(v3, { front, ps0, worker, world, step });
    expect(ps2.node.dedup.duplicates, 'step 1, re-sent, was acknowledged from the window PS 1 inherited and replicated').to.equal(2);
    await expectOnce([ps2], [ps0, ps1, ps2], world.acked, dense, step);
  });

  it('windows larger than one stream message all reach the target, each under the source\'s derived key', async () => {
    const { ps0, ps1, v1 } = await setUp();
    const clientsSeeded = 70; // 70 windows of 1,024: 71,680 identities, two messages
    for (let c = 1; c <= clientsSeeded; c++) for (let seq = 1; seq <= 1024; seq++) ps0.node.dedup.record(BigInt(c) << 32n, seq, seq % 7);
    await migrate('mig-big', ps0, 0, ps1, bucketsOwnedBy(v1, 0), 1);
    for (const c of [1, 35, clientsSeeded]) {
      for (const seq of [1, 512, 1024]) expect(ps1.node.dedup.lookup(inheritedClientId(BigInt(c) << 32n, 0), seq), `client ${c} push ${seq}`).to.equal(seq % 7);
    }
    await peers.end(ps0.addr, 'mig-big', false);
    await peers.end(ps1.addr, 'mig-big', false);
  });

  function track(c: PsClient): PsClient {
    clients.push(c);
    return c;
  }
});
