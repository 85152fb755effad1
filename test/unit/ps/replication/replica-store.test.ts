import { expect } from 'chai';
import { silentLogger } from '../../../../src/common/logger';
import { PsNode } from '../../../../src/ps/ps-node';
import { APPLIED_ENTRY_BYTES, inheritedClientId } from '../../../../src/ps/replication/applied-pushes';
import { LoopSlicer } from '../../../../src/ps/replication/replica-promotion';
import { ReplicaStore } from '../../../../src/ps/replication/replica-store';
import { ReplicationLog } from '../../../../src/ps/replication/replication-log';
import { bucketOf } from '../../../../src/sharding/buckets';
import { Encoding } from '../../../../src/wire/data-plane-codec';
import { asBytes } from '../../../../src/wire/key-block';

// Issue 17 §2: the primary's replication log and the buddy's replica store, in one process.
const NB = 16;
function node(): PsNode {
  const n = new PsNode({ config: { maxRequestBytes: 1 << 24 }, logger: silentLogger() });
  n.createTable({ name: 'emb', kind: 'embedding', dim: 4, optimizer: { kind: 'adagrad', lr: 0.1 }, initializer: { kind: 'uniform', scale: 0.1 }, seed: 7 });
  n.createTable({ name: 'mlp', kind: 'dense', size: 3, optimizer: { kind: 'sgd', lr: 1 } });
  n.setShardMap(1, NB, null);
  return n;
}
const ids = (xs: number[]) => Uint32Array.from(xs.flatMap((x) => [x, 0]));
function push(n: PsNode, xs: number[], clientId: bigint, seq: number): number {
  return n.push({ table: 'emb', shardMapVersion: 1, ids: asBytes(ids(xs)), grads: asBytes(new Float32Array(xs.length * 4).fill(0.5)), encoding: Encoding.F32, clientId, pushSeq: seq });
}
function rowsOf(n: PsNode, xs: number[]): number[][] {
  const t = n.store.getEmbedding('emb');
  const w = new Float32Array(4 * xs.length);
  const s = new Float32Array(t.stateWidth * xs.length);
  const out = new Uint32Array(2 * xs.length);
  expect(t.readRows(ids(xs), xs.length, out, w, s)).to.equal(xs.length);
  return xs.map((_, i) => [...w.subarray(4 * i, 4 * i + 4), ...s.subarray(t.stateWidth * i, t.stateWidth * (i + 1))]);
}

/** A primary logging its applied pushes for `primaryId`, and a buddy with an empty replica store. */
function pair(primaryId: number) {
  const primary = node();
  const buddy = node();
  const log = new ReplicationLog(primary, { primaryId });
  primary.onApplied = (t, i, c, s, r, g) => log.applied(t, i, c, s, r, g);
  return { primary, buddy, log, store: new ReplicaStore(buddy) };
}

describe('ReplicationLog -> ReplicaStore (issue 17 buddy replication)', () => {
  const C = 0xabcdefn;

  it('a promoted replica holds the primary\'s rows and optimizer state bit for bit as of the last batch, and nothing after it', async () => {
    const { primary, buddy, log, store } = pair(3);
    push(primary, [1, 2, 3], C, 1);
    push(primary, [2, 3, 4], C, 2);
    primary.push({ table: 'mlp', shardMapVersion: 1, ids: new Uint8Array(0), grads: asBytes(Float32Array.of(1, 2, 3)), encoding: Encoding.F32 });
    const b1 = log.cut(1 << 16)!;
    expect(b1.reset, 'the first batch resets the buddy').to.equal(true);
    expect(b1.complete).to.equal(true);
    expect(b1.pushesApplied).to.equal(3);
    expect(log.lagSeconds(), 'in flight, not acknowledged').to.be.greaterThan(0);
    store.apply(b1);
    log.acked(b1);
    expect(log.lagSeconds(), 'the buddy holds every push').to.equal(0);
    const asOfBatch = rowsOf(primary, [1, 2, 3, 4]);
    push(primary, [1, 4], C, 3); // applied after the last batch: what a kill now would lose
    expect(log.lagSeconds()).to.be.greaterThan(0);

    const all = new Uint8Array(NB).fill(1);
    const p = await store.promote(3, all);
    expect(p.rows).to.equal(4);
    expect(p.dense).to.equal(1);
    expect(p.pushesApplied).to.equal(3);
    expect(rowsOf(buddy, [1, 2, 3, 4])).to.deep.equal(asOfBatch);
    expect([...buddy.store.getDense('mlp').pull()]).to.deep.equal([...primary.store.getDense('mlp').pull()]);
    expect((await store.promote(3, all)).rows, 'promoting again does the same (the chief may repeat it)').to.equal(4);
    expect(rowsOf(buddy, [1, 2, 3, 4])).to.deep.equal(asOfBatch);
    store.retain(new Set());
    expect(store.list(), 'dropped at the next configuration').to.deep.equal([]);
  });

  it('the promoted replica acknowledges a retried push under the inherited id, and a new push of the same seq is applied', async () => {
    const { primary, buddy, log, store } = pair(3);
    push(primary, [1, 2], C, 1);
    store.apply(log.cut(1 << 16)!);
    await store.promote(3, new Uint8Array(NB).fill(1));
    const before = rowsOf(buddy, [1]);
    const again = buddy.push({ table: 'emb', shardMapVersion: 1, ids: asBytes(ids([1, 2])), grads: asBytes(new Float32Array(8).fill(0.5)), encoding: Encoding.F32, clientId: inheritedClientId(C, 3), pushSeq: 1 });
    expect(again, 'acknowledged with the first answer').to.equal(2);
    expect(rowsOf(buddy, [1]), 'and not applied again').to.deep.equal(before);
    push(buddy, [1], C, 1); // the client's own first push to the buddy: not a duplicate
    expect(rowsOf(buddy, [1])).to.not.deep.equal(before);
  });

  // Issue 17 (ADR 0043, amendment 1): a window the primary inherited (buckets migrated to it, a
  // replica it promoted) never reached its buddy, so a promoted buddy applied a re-sent push of
  // it a second time. K is the key PS 9 (a migration's source) handed push 4 of client C over under.
  it('a window the primary inherited reaches the buddy with the next batch, and its promotion answers re-sends under both keys', async () => {
    const { primary, buddy, log, store } = pair(3);
    push(primary, [1, 2], C, 1);
    const first = log.cut(1 << 16)!;
    expect(first.inherited.length, 'nothing inherited yet').to.equal(0);
    store.apply(first);
    log.acked(first);
    const K = inheritedClientId(C, 9);
    primary.dedup.inherit(K, 4, 2); // a migration round installs it; no push follows
    const b = log.cut(1 << 16)!;
    expect(b, 'a batch goes for the window alone').to.not.equal(undefined);
    expect([b.complete, b.applied.length, b.inherited.length]).to.deep.equal([true, 0, APPLIED_ENTRY_BYTES]);
    store.apply(b);
    log.acked(b);
    expect(log.cut(1 << 16), 'nothing changed since').to.equal(undefined);

    await store.promote(3, new Uint8Array(NB).fill(1));
    const before = rowsOf(buddy, [1, 2]);
    // K: the client last sent push 4 to PS 9. Derived from K for PS 3: it re-sent it to PS 3, which died.
    for (const clientId of [K, inheritedClientId(K, 3)]) {
      const again = buddy.push({ table: 'emb', shardMapVersion: 1, ids: asBytes(ids([1, 2])), grads: asBytes(new Float32Array(8).fill(0.5)), encoding: Encoding.F32, clientId, pushSeq: 4 });
      expect(again, 'acknowledged with the first answer').to.equal(2);
    }
    expect(buddy.dedup.duplicates).to.equal(2);
    expect(rowsOf(buddy, [1, 2]), 'and not applied again').to.deep.equal(before);
  });

  it('windows survive a reset: its full copy carries every window, own and inherited, to a buddy that held none, and again after a lost batch', async () => {
    const { primary, log, store } = pair(3);
    push(primary, [1], C, 1);
    push(primary, [2], C, 2);
    const K = inheritedClientId(C, 9);
    primary.dedup.inherit(K, 4, 1);
    const lost = log.cut(1 << 16)!;
    expect(lost.inherited.length).to.equal(APPLIED_ENTRY_BYTES);
    log.failed(lost); // never applied: the reset that follows carries the window again
    const again = log.cut(1 << 16)!;
    expect([again.reset, again.inherited.length]).to.deep.equal([true, APPLIED_ENTRY_BYTES]);
    store.apply(again);
    log.acked(again);

    log.resync(); // a new buddy (the chief reassigned it): a full copy, to a PS that knows no window
    const copy = log.cut(1 << 16)!;
    expect([copy.reset, copy.complete]).to.deep.equal([true, true]);
    const promoted = node();
    const replicas = new ReplicaStore(promoted);
    replicas.apply(copy);
    await replicas.promote(3, new Uint8Array(NB).fill(1));
    for (const [clientId, seq] of [[inheritedClientId(C, 3), 1], [inheritedClientId(C, 3), 2], [K, 4], [inheritedClientId(K, 3), 4]] as const) {
      expect(promoted.dedup.lookup(clientId, seq), `push ${seq} of ${clientId.toString(16)}`).to.equal(1);
    }
  });

  it('refuses to promote a replica whose full copy has not arrived whole', async () => {
    const { primary, buddy, store } = pair(2);
    buddy.createTable({ name: 'emb2', kind: 'embedding', dim: 4, optimizer: { kind: 'sgd', lr: 0.1 } });
    push(primary, [1, 2], C, 1);
    primary.createTable({ name: 'emb2', kind: 'embedding', dim: 4, optimizer: { kind: 'sgd', lr: 0.1 } });
    primary.push({ table: 'emb2', shardMapVersion: 1, ids: asBytes(ids([7])), grads: asBytes(new Float32Array(4)), encoding: Encoding.F32 });
    const log2 = new ReplicationLog(primary, { primaryId: 2 });
    const first = log2.cut(1)!; // one table per batch: the copy spans two batches
    expect(first.complete).to.equal(false);
    store.apply(first);
    const early = await store.promote(2, new Uint8Array(NB).fill(1)).then(() => null, (err: Error) => err);
    expect(early?.message).to.match(/still receiving its full copy/);
    store.apply(log2.cut(1)!);
    expect((await store.promote(2, new Uint8Array(NB).fill(1))).rows).to.equal(3);
  });

  it('promotes only the dead PS\'s buckets, and refuses a batch out of order (the primary resyncs)', async () => {
    const { primary, buddy, log, store } = pair(1);
    const xs = Array.from({ length: 64 }, (_, i) => i + 1);
    push(primary, xs, C, 1);
    store.apply(log.cut(1 << 16)!);
    push(primary, [5], C, 2);
    const b2 = log.cut(1 << 16)!;
    expect(() => store.apply({ ...b2, batchSeq: b2.batchSeq + 1 })).to.throw(/out of order/);
    log.failed(b2);
    const b3 = log.cut(1 << 16)!;
    expect(b3.reset, 'after a failure the log sends everything from a reset').to.equal(true);
    store.apply(b3);
    const mask = new Uint8Array(NB);
    mask[bucketOf(5, 0, NB)] = 1;
    const inMask = xs.filter((x) => mask[bucketOf(x, 0, NB)] === 1).length;
    expect((await store.promote(1, mask)).rows).to.equal(inMask);
    expect(buddy.store.getEmbedding('emb').size).to.equal(inMask);
  });

  // Issue 17: a promotion written in one synchronous step blocked the buddy about 1 s per 100k
  // rows, past a lease TTL at tens of millions of rows. It now runs in slices, with the event
  // loop's turn between them.
  it('promotes in slices: between them the buddy serves its own pushes, refuses replica batches, and a repeated promote joins', async () => {
    const primary = node();
    const buddy = node();
    const log = new ReplicationLog(primary, { primaryId: 5 });
    primary.onApplied = (t, i, c, s, r) => log.applied(t, i, c, s, r);
    const xs = Array.from({ length: 5_000 }, (_, i) => i + 100);
    push(primary, xs, C, 1);
    let turns = 0;
    let refused = '';
    let repeat: Promise<unknown> | undefined;
    const store: ReplicaStore = new ReplicaStore(buddy, () => new LoopSlicer(0, async () => {
      if (turns++ === 0) {
        push(buddy, [1], C, 7); // the buddy's own bucket, served mid-promotion
        try {
          store.apply(log.cut(1 << 16)!);
        } catch (err) {
          refused = (err as Error).message;
        }
        repeat = store.promote(5, new Uint8Array(NB).fill(1));
      }
      await new Promise((r) => setImmediate(r));
    }));
    store.apply(log.cut(1 << 16)!);
    const want = rowsOf(primary, xs);
    push(primary, [100], C, 2); // pending on the primary: a batch for the replica mid-promotion
    const p = await store.promote(5, new Uint8Array(NB).fill(1));
    expect(p.rows).to.equal(xs.length);
    expect(p.slices, 'slices').to.be.greaterThan(2);
    expect(turns).to.equal(p.slices - 1);
    expect(refused).to.match(/being promoted/);
    expect(await repeat, 'the repeat joined the running promotion').to.equal(p);
    expect(rowsOf(buddy, xs), 'rows and state bit for bit').to.deep.equal(want);
    expect(buddy.store.getEmbedding('emb').size).to.equal(xs.length + 1);
  });
});
