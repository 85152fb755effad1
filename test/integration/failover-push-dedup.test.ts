/**
 * Issue 17 §2, exactly-once across a PS failover, client side. PS 0 (behind a TCP proxy that can
 * hold its answers) replicates to its buddy PS 1. A training step is pushed to PS 0, which
 * applies it and replicates it, but its answers are held; PS 0 then dies, its buddy's replica is
 * promoted and the failover map (PS 1 owns every bucket) is published. A second step, sent after
 * the death, never reached PS 0. The client re-routes both by the failover map under the identity
 * the promoted replica inherited: the first step is acknowledged as a duplicate, not applied
 * twice, and the second is applied once. Pushes the PS applied equal pushes the client saw
 * acknowledged, and every row and the dense table equal, bit for bit, one PS that took each step
 * once.
 */
import { expect } from 'chai';
import { PsClient } from '../../src/client/ps-client';
import { GrpcReplicationPeers } from '../../src/client/replication-peers';
import { silentLogger } from '../../src/common/logger';
import { startPsServer, PsServer } from '../../src/ps/ps-server';
import type { TableSpec } from '../../src/ps/store/table-spec';
import { failoverMap, withBuddies } from '../../src/sharding/buddies';
import { bucketsOwnedBy, planShardMap, ShardMap } from '../../src/sharding/shard-map';
import { replicationCall } from '../../src/wire/replication-client';
import { CkptCluster, ckptCluster, dumpTable } from '../helpers/checkpoint';
import { countingWorker, psZeroSteps } from '../helpers/held-push';
import { TcpProxy } from '../helpers/tcp-proxy';
import { until } from '../helpers/until';

const DIM = 8;
const EMB: TableSpec = { name: 'emb', kind: 'embedding', dim: DIM, optimizer: { kind: 'adagrad', lr: 0.05 }, initializer: { kind: 'uniform', scale: 0.05 }, seed: 1 };
const DENSE_SIZE = 6;

const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

describe('a push applied and replicated by a PS that died unanswered is not applied again by its promoted buddy (issue 17)', function () {
  this.timeout(60_000);
  let primary: PsServer | undefined;
  let buddy: PsServer | undefined;
  let proxy: TcpProxy | undefined;
  let reference: CkptCluster | undefined;
  const clients: PsClient[] = [];

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await proxy?.close();
    await Promise.all([primary?.stop(), buddy?.stop(), reference?.tearDown()]);
    proxy = primary = buddy = reference = undefined;
  });

  it('re-sends a failed-over push under the inherited identity: acknowledged once, applied once', async () => {
    const [ps0, ps1] = await Promise.all([0, 1].map(() => startPsServer({ port: 0, maxRequestBytes: 64 << 20, logger: silentLogger() })));
    [primary, buddy] = [ps0, ps1];
    const front = (proxy = await TcpProxy.start(ps0.addr));
    const v1 = withBuddies(planShardMap([{ id: 0, addr: proxy.addr }, { id: 1, addr: ps1.addr }]), new Map([[0, 1], [1, 0]]));
    const { dense, step } = psZeroSteps(v1, DIM, DENSE_SIZE); // every push of the test goes to PS 0

    const admin = track(new PsClient({ shardMap: v1, logger: silentLogger() }));
    await admin.admin.installShardMap();
    for (const t of [EMB, dense]) await admin.admin.createTable(t);
    ps1.node.createTable(dense); // promotion loads a replica's dense table only into one the buddy has
    const peers = new GrpcReplicationPeers();
    await peers.configure(ps1.addr, { selfId: 1, buddy: null, primaries: [0], shardMapVersion: 1 });
    await peers.configure(ps0.addr, { selfId: 0, buddy: { id: 1, addr: ps1.addr }, primaries: [], shardMapVersion: 1 });
    let published: ShardMap = v1;
    const counter = { acked: 0 }; // push requests some PS answered, counted on the wire
    const worker = track(countingWorker(v1, () => published, counter));

    await worker.waitReady(); // connected before the proxy holds answers (the handshake is one)

    // Step 1: applied and replicated at PS 0, its answers held back.
    front.holdAnswers();
    await worker.data.pushStep(step(1).sparse, step(1).dense);
    await until(() => ps0.node.stats().counters.pushes === 2, 'PS 0 to apply step 1');
    await until(async () => (await replicationCall<{ lagSeconds: number }>(ps0.addr, 'ReplicationStatus', {})).lagSeconds === 0, 'the buddy to hold step 1');
    const appliedAtDeath = { emb: dumpTable([ps0], 'emb'), dense: bits(ps0.node.store.getDense(dense.name).values) };

    // PS 0 dies unanswered; step 2 is sent after its death and never reaches it.
    await front.close();
    await ps0.stop();
    proxy = primary = undefined;
    await worker.data.pushStep(step(2).sparse, step(2).dense);

    // The chief's failover: promote the buddy's replica of PS 0's buckets, then publish the map.
    const promoted = await peers.promote(ps1.addr, 0, bucketsOwnedBy(v1, 0));
    expect(promoted.identities, 'the replica handed over the identities of step 1').to.be.at.least(2);
    expect(dumpTable([ps1], 'emb'), 'the promoted rows are PS 0\'s as it died').to.deep.equal(appliedAtDeath.emb);
    expect(bits(ps1.node.store.getDense(dense.name).values)).to.equal(appliedAtDeath.dense);
    const v2 = withBuddies(failoverMap(v1, new Set([0])), new Map());
    ps1.node.setShardMap(v2.version, v2.numBuckets, bucketsOwnedBy(v2, 0));
    published = v2;
    await worker.data.flush();

    expect(worker.map.version, 'the worker routes by the failover map').to.equal(2);
    expect(ps1.node.dedup.duplicates, 'step 1, re-sent, was acknowledged from the inherited window').to.equal(2);
    const applied = ps0.node.stats().counters.pushes + ps1.node.stats().counters.pushes;
    expect(counter.acked, 'two steps of two requests, each acknowledged once').to.equal(4);
    expect(applied, 'pushes the PS applied = pushes the client saw acknowledged').to.equal(counter.acked);

    // Each step applied once: the same as one PS that took each step once.
    reference = await ckptCluster(1, [EMB, dense]);
    for (const r of [1, 2]) await reference.client.data.pushStep(step(r).sparse, step(r).dense);
    await reference.client.data.flush();
    expect(dumpTable([ps1], 'emb')).to.deep.equal(dumpTable(reference.servers, 'emb'));
    expect(bits(ps1.node.store.getDense(dense.name).values)).to.equal(bits(reference.servers[0].node.store.getDense(dense.name).values));
  });

  function track(c: PsClient): PsClient {
    clients.push(c);
    return c;
  }
});
