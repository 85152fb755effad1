/**
 * Issue 17: PS-to-PS bucket migration on real gRPC servers (port 0). A cluster of 2 PS trains;
 * a third joins owning nothing; the buckets the planner gives it are copied, caught up in a tail
 * round, fenced, sent their last tail, installed and dropped at the sources, while pushes go on
 * between every step. The rows and optimizer state must then equal, bit for bit, those of one PS
 * that took the same pushes and never migrated.
 */
import { expect } from 'chai';
import { ERROR_CODES, TesseraError } from '../../src/common/errors';
import { silentLogger } from '../../src/common/logger';
import { PsClient } from '../../src/client/ps-client';
import type { PsServer } from '../../src/ps/ps-server';
import type { TableSpec } from '../../src/ps/store/table-spec';
import { encodeChunk } from '../../src/checkpoint/chunk-format';
import { bucketOf } from '../../src/sharding/buckets';
import { movedBuckets, planShardMap, ShardMap } from '../../src/sharding/shard-map';
import { Encoding } from '../../src/wire/data-plane-codec';
import { sendChunks } from '../../src/wire/migration-client';
import { CkptCluster, ckptCluster, dumpTable, gradsFor, idRange, trainRound } from '../helpers/checkpoint';
import { joiningPs, migrationCall, movingBuckets } from '../helpers/migration';

const TABLES: TableSpec[] = [
  { name: 'emb', kind: 'embedding', dim: 8, optimizer: { kind: 'adagrad', lr: 0.05 }, seed: 1 },
  { name: 'half', kind: 'embedding', dim: 4, optimizer: { kind: 'adam', lr: 0.01 }, weightFormat: 'f16', seed: 2 },
];

/** Round `r` on `client`: more ids each round, so pulls during a migration create rows too. */
async function round(client: PsClient, r: number): Promise<void> {
  await trainRound(client, 'emb', idRange(0, 400 + 150 * r), 8, r);
  await trainRound(client, 'half', idRange(50_000, 200 + 80 * r), 4, r);
}

async function expectCode(p: Promise<unknown>, code: string): Promise<TesseraError> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(TesseraError);
    expect((err as TesseraError).code, (err as Error).message).to.equal(code);
    return err as TesseraError;
  }
  throw new Error(`expected ${code}`);
}

describe('PS-to-PS bucket migration (issue 17)', function () {
  this.timeout(60_000);
  let cluster: CkptCluster;
  let reference: CkptCluster;
  let joined: PsServer;
  let v2: ShardMap;
  const clients: PsClient[] = [];

  beforeEach(async () => {
    cluster = await ckptCluster(2, TABLES);
    reference = await ckptCluster(1, TABLES);
    joined = await joiningPs(TABLES, 1, cluster.map.numBuckets);
    v2 = planShardMap([...cluster.map.ps, { id: 2, addr: joined.addr }], { previous: cluster.map });
    for (let r = 0; r < 3; r++) await Promise.all([round(cluster.client, r), round(reference.client, r)]);
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await Promise.all([cluster.tearDown(), reference.tearDown(), joined.stop()]);
  });

  const sources = () => cluster.servers.map((s, id) => ({ s, id, buckets: movingBuckets(cluster.map, v2, id, 2), mig: `mig-v2-ps${id}` }));

  it('2 -> 3 PS: copy, tail, fence, install and drop under pushes equal one PS that never moved, bit for bit', async () => {
    const src = sources();
    expect(src.reduce((n, x) => n + x.buckets.length / 4, 0)).to.equal(movedBuckets(cluster.map, v2).length);
    const copied = await Promise.all(src.map((x) => migrationCall(x.s.addr, 'BeginMigration', { migrationId: x.mig, buckets: x.buckets, targetAddr: joined.addr, shardMapVersion: 1 })));
    expect(copied.every((c) => c.rows > 0 && c.chunks > 0)).to.equal(true);
    await Promise.all([round(cluster.client, 3), round(reference.client, 3)]); // pushes after the cut
    const tails = await Promise.all(src.map((x) => migrationCall(x.s.addr, 'SendTail', { migrationId: x.mig, fence: false })));
    expect(tails.every((t) => t.rows > 0)).to.equal(true);
    await Promise.all([round(cluster.client, 4), round(reference.client, 4)]);
    await Promise.all(src.map((x) => migrationCall(x.s.addr, 'SendTail', { migrationId: x.mig, fence: true })));

    // Fenced: a push to a moving bucket is refused (retryable), one to a staying bucket applies.
    const ids = idRange(0, 400);
    const moving = (k: number) => v2.ps[v2.owner[bucketOf(ids[2 * k], ids[2 * k + 1], v2.numBuckets)]].id === 2;
    const kMove = [...Array(400).keys()].find((k) => moving(k) && cluster.map.owner[bucketOf(ids[2 * k], ids[2 * k + 1], v2.numBuckets)] === 0)!;
    const kStay = [...Array(400).keys()].find((k) => !moving(k) && cluster.map.owner[bucketOf(ids[2 * k], ids[2 * k + 1], v2.numBuckets)] === 0)!;
    const push = (node: typeof cluster.servers[0]['node'], k: number) => node.push({
      table: 'emb', shardMapVersion: 1, ids: new Uint8Array(ids.slice(2 * k, 2 * k + 2).buffer), grads: new Uint8Array(gradsFor(1, 8, 9).buffer), encoding: Encoding.F32,
    });
    const refused = await expectCode(Promise.resolve().then(() => push(cluster.servers[0].node, kMove)), ERROR_CODES.UNAVAILABLE);
    expect(refused.retryable).to.equal(true);
    expect(refused.message).to.match(/is moving to another PS/);
    push(cluster.servers[0].node, kStay);
    push(reference.servers[0].node, kStay);

    const next = new PsClient({ shardMap: v2, logger: silentLogger(), maxInflightPushes: 0 });
    clients.push(next);
    await next.admin.installShardMap();
    const ended = await Promise.all([...src.map((x) => migrationCall(x.s.addr, 'EndMigration', { migrationId: x.mig, commit: true })),
      ...src.map((x) => migrationCall(joined.addr, 'EndMigration', { migrationId: x.mig, commit: true }))]);
    expect(ended.every((e) => e.known)).to.equal(true);
    await Promise.all([round(next, 5), round(reference.client, 5)]);

    const all = [...cluster.servers, joined];
    for (const t of ['emb', 'half']) {

      const got = dumpTable(all, t); // throws if a row is held by two PS: the sources dropped theirs
      expect(got.size).to.be.greaterThan(0);
      expect(got).to.deep.equal(dumpTable(reference.servers, t));
      expect(joined.node.store.getEmbedding(t).size).to.be.greaterThan(0);
    }
  });

  it('a chunk whose checksum fails is DATA_LOSS naming the chunk, and loads nothing', async () => {
    const b = bucketOf(7, 0, v2.numBuckets);
    const chunk = Buffer.concat(encodeChunk({ kind: 'rows', weightFormat: 'f32', table: 'emb', dim: 8, stateWidth: 8, rows: 1, bucketStart: b, bucketEnd: b + 1 },
      Uint32Array.of(7, 0), new Float32Array(8).fill(0.5), new Float32Array(8)));
    chunk[chunk.length - 1] ^= 0xff;
    const err = await expectCode(sendChunks(joined.addr, 'mig-x', Buffer.from(Uint32Array.of(b).buffer), [chunk], { timeoutMs: 10_000 }), ERROR_CODES.CHECKPOINT_CORRUPT);
    expect(err.message).to.match(/migration mig-x chunk.*checksum/);
    expect(joined.node.store.getEmbedding('emb').size).to.equal(0);
  });

  it('a target refuses to stage a bucket it owns: a late chunk never overwrites pushed rows', async () => {
    const owned = movingBuckets(cluster.map, cluster.map, 0, 0).subarray(0, 4);
    const err = await expectCode(sendChunks(cluster.servers[0].addr, 'mig-y', owned, [], { timeoutMs: 10_000 }), ERROR_CODES.WRONG_SHARD);
    expect(err.message).to.match(/owned by this PS at shard-map version 1/);
  });

  it('rolled back after the fence: the source takes pushes again and keeps its rows, the target drops what it staged', async () => {
    const [x] = sources();
    const before = dumpTable([x.s], 'emb');
    await migrationCall(x.s.addr, 'BeginMigration', { migrationId: x.mig, buckets: x.buckets, targetAddr: joined.addr, shardMapVersion: 1 });
    await migrationCall(x.s.addr, 'SendTail', { migrationId: x.mig, fence: true });
    expect(joined.node.store.getEmbedding('emb').size).to.be.greaterThan(0);
    await expectCode(migrationCall(x.s.addr, 'EndMigration', { migrationId: x.mig, commit: true }), ERROR_CODES.SNAPSHOT_CONFLICT); // map not installed
    await migrationCall(x.s.addr, 'EndMigration', { migrationId: x.mig, commit: false });
    const dropped = await migrationCall(joined.addr, 'EndMigration', { migrationId: x.mig, commit: false });
    expect(dropped.rowsDropped).to.be.greaterThan(0);
    expect(joined.node.store.getEmbedding('emb').size).to.equal(0);
    expect(dumpTable([x.s], 'emb')).to.deep.equal(before);
    await Promise.all([round(cluster.client, 3), round(reference.client, 3)]); // no push refused
    expect(dumpTable(cluster.servers, 'emb')).to.deep.equal(dumpTable(reference.servers, 'emb'));
  });
});
