/**
 * Issue 17: admission counts and eviction metadata move with migrated buckets (migrated-meta.ts),
 * and a row past its TTL reads as evicted whether or not the eviction hand has reached it.
 */
import { expect } from 'chai';
import { silentLogger } from '../../../src/common/logger';
import { PsNode } from '../../../src/ps/ps-node';
import { EmbeddingTable } from '../../../src/ps/store/embedding-table';
import { TableStore } from '../../../src/ps/store/table-store';
import { IncomingMigrations } from '../../../src/ps/migration/incoming-migrations';
import { OutgoingMigration } from '../../../src/ps/migration/outgoing-migration';
import { bucketOf } from '../../../src/sharding/buckets';
import { Encoding } from '../../../src/wire/data-plane-codec';

const B = 64;
const MIN_COUNT = 3;
const TTL = 20;

/** `n` ids from `from` whose bucket has `want(b)`. */
function idsWhere(from: number, n: number, want: (b: number) => boolean): Uint32Array {
  const out: number[] = [];
  for (let i = from; out.length < 2 * n; i++) {
    const lo = Math.imul(i, 2654435761) >>> 0;
    if (want(bucketOf(lo, 0, B))) out.push(lo, 0);
  }
  return Uint32Array.from(out);
}

function node(owned: number[]): PsNode {
  const n = new PsNode({ config: { maxRequestBytes: 1 << 24 }, logger: silentLogger(), store: new TableStore({ slabRows: 16 }) });
  n.createTable({
    name: 'emb', kind: 'embedding', dim: 2, optimizer: { kind: 'adagrad', lr: 0.1 }, seed: 3,
    admission: { minCount: MIN_COUNT, sketchWidth: 1 << 12 }, eviction: { ttlSteps: TTL },
  });
  n.setShardMap(1, B, owned);
  return n;
}

const pull = (n: PsNode, k: Uint32Array, v = 1) => n.pull({ table: 'emb', shardMapVersion: v, ids: new Uint8Array(k.buffer, k.byteOffset, k.byteLength), encoding: Encoding.F32 }, (bytes) => new Uint8Array(bytes));
const push = (n: PsNode, k: Uint32Array, v = 1) => n.push({ table: 'emb', shardMapVersion: v, ids: new Uint8Array(k.buffer, k.byteOffset, k.byteLength), grads: new Uint8Array(new Float32Array(k.length).fill(0.01).buffer), encoding: Encoding.F32 });
/** Step `step` of worker 7's push of `k` to `n` (its step tag), at map version `v`. */
const tagged = (n: PsNode, k: Uint32Array, step: number, v = 1) => n.push({
  table: 'emb', shardMapVersion: v, ids: new Uint8Array(k.buffer, k.byteOffset, k.byteLength),
  grads: new Uint8Array(new Float32Array(k.length).fill(0.01).buffer), encoding: Encoding.F32, stepTag: { client: 7n, step },
});

/** A source owning buckets [0, B/2), a target owning the rest, and the buckets that move: [0, B/4). */
function halves(): { src: PsNode; dst: PsNode; moving: Uint8Array } {
  return { src: node([...Array(B / 2).keys()]), dst: node([...Array(B / 2).keys()].map((b) => b + B / 2)), moving: new Uint8Array(B).map((_, b) => (b < B / 4 ? 1 : 0)) };
}

/** Migration `id` of the `moving` buckets from `src` to `dst`, both halves in this process. */
function migration(src: PsNode, dst: PsNode, id: string, moving: Uint8Array) {
  const out = new OutgoingMigration(src, { id, buckets: moving, targetAddr: 'x:1' });
  const inc = new IncomingMigrations(dst);
  inc.stage(id, moving);
  const apply = (c: Buffer) => inc.apply(id, c);
  /** Streams one round (`fence`: the fenced one) from the source to the target. */
  const send = (fence: boolean) => { for (const c of out.round(fence)) apply(c); };
  return { round: (fence: boolean) => out.round(fence), apply, send };
}

/** id → `age,uses` of the rows of `t` in `buckets`, at `t`'s clock now. */
function ages(t: EmbeddingTable, buckets: Uint8Array): Map<number, string> {
  const clock = t.evictionClock();
  const s = t.evictionMetaSlice(buckets, null, 0, 1 << 20)!;
  const m = new Map<number, string>();
  for (let k = 0; k < s.ids.length >>> 1; k++) m.set(s.ids[2 * k], `${(clock - s.words[2 * k]) >>> 0},${s.words[2 * k + 1]}`);
  return m;
}

describe('admission and eviction metadata move with migrated buckets (issue 17)', () => {
  it('the target holds the moved rows with the ages and use counts they had on the source, and counts pending ids on from the source', () => {
    const { src, dst, moving } = halves();
    const hot = idsWhere(0, 40, (b) => b < B / 4);
    const pending = idsWhere(1000, 40, (b) => b < B / 4);
    const stay = idsWhere(2000, 20, (b) => b >= B / 4 && b < B / 2);
    const dstOwn = idsWhere(3000, 20, (b) => b >= B / 2);
    for (let i = 0; i < MIN_COUNT; i++) pull(src, hot);
    for (let i = 0; i < MIN_COUNT - 1; i++) pull(src, pending);
    for (let i = 0; i < MIN_COUNT; i++) pull(src, stay);
    for (let i = 0; i < MIN_COUNT; i++) pull(dst, dstOwn);
    // Varied use counts and ticks: the first ten hot rows are pushed every step.
    for (let step = 0; step < 4; step++) push(src, step % 2 === 0 ? hot : hot.subarray(0, 20));
    for (let step = 0; step < 9; step++) push(dst, dstOwn); // dst's clock runs ahead

    const { send } = migration(src, dst, 'm1', moving);
    send(false);
    // Between the copy and the fence the clocks drift apart: the source's moving rows age by
    // pushes elsewhere; a few are touched; the target counts its own pushes.
    for (let step = 0; step < 3; step++) push(src, stay);
    push(src, hot.subarray(0, 4));
    pull(src, pending.subarray(0, 2)); // one id's third sighting: admitted on the source, a row there
    for (let step = 0; step < 5; step++) push(dst, dstOwn);
    send(false);
    push(src, stay);
    send(true);

    const s = src.store.getEmbedding('emb');
    const d = dst.store.getEmbedding('emb');
    expect(ages(d, moving)).to.deep.equal(ages(s, moving));
    expect(ages(d, moving).size, "the hot rows and the one admitted on the source").to.equal(41);

    // The ids still pending on the source need only the sightings the source still lacked.
    dst.setShardMap(2, B, [...Array(B / 4).keys(), ...[...Array(B / 2).keys()].map((b) => b + B / 2)]);
    const rest = pending.subarray(2);
    pull(dst, rest, 2);
    for (let k = 0; k < rest.length >>> 1; k++) expect(d.has(rest[2 * k], 0), `pending id ${k} admitted at its third sighting`).to.equal(true);
  });

  it('a step split by the fence ticks each PS once, and the target\'s part of it before the fence is not counted into moved rows\' ages (issue 17)', () => {
    // A PS that never resharded takes each step in one request; src and dst take the same steps split by owner.
    const ref = node([...Array(B).keys()]);
    const { src, dst, moving } = halves();
    const theirs = new Uint8Array(B).map((_, b) => (b >= B / 2 ? 1 : 0));
    const hot = idsWhere(0, 30, (b) => b < B / 4);
    const own = idsWhere(3000, 20, (b) => b >= B / 2);
    const both = new Uint32Array([...hot, ...own]);
    const hotA = hot.subarray(0, 20); // pushed in the split step; the rest last on the source
    const step5 = new Uint32Array([...hotA, ...own]);
    const step6 = own.subarray(0, 4);
    for (let i = 0; i < MIN_COUNT; i++) {
      pull(ref, both);
      pull(src, hot);
      pull(dst, own);
    }
    for (let step = 1; step <= 4; step++) {
      tagged(ref, step % 2 === 0 ? both : own, step);
      tagged(src, step % 2 === 0 ? hot : new Uint32Array(0), step); // a PS a step touches no row of gets an empty request
      tagged(dst, own, step);
    }
    const m = migration(src, dst, 'm2', moving);
    m.send(false);
    // Step 5: dst takes its own part before the fenced round; the source's part is refused
    // (fenced), then re-routed to dst under the new map. Step 6 goes by the new map.
    tagged(ref, step5, 5);
    tagged(dst, own, 5);
    m.send(true);
    dst.setShardMap(2, B, [...Array(B / 4).keys(), ...[...Array(B / 2).keys()].map((b) => b + B / 2)]);
    tagged(dst, hotA, 5, 2);
    tagged(ref, step6, 6);
    tagged(dst, step6, 6, 2);

    const r = ref.store.getEmbedding('emb');
    const d = dst.store.getEmbedding('emb');
    expect(ages(d, theirs), "the target's own rows").to.deep.equal(ages(r, theirs));
    expect(ages(d, moving), 'the moved rows').to.deep.equal(ages(r, moving));
  });

  it('a row created on the source between a round\'s cut and its metadata read moves with its own age (issue 17)', () => {
    const { src, dst, moving } = halves();
    const hot = idsWhere(0, 20, (b) => b < B / 4);
    const late = idsWhere(1000, 5, (b) => b < B / 4);
    const stay = idsWhere(2000, 10, (b) => b >= B / 4 && b < B / 2);
    for (let i = 0; i < MIN_COUNT; i++) pull(src, hot);
    for (let i = 0; i < MIN_COUNT - 1; i++) pull(src, late);
    for (let step = 0; step < 3; step++) push(src, hot);
    for (let step = 0; step < 7; step++) push(dst, idsWhere(3000, 5, (b) => b >= B / 2)); // dst's clock runs ahead

    const m = migration(src, dst, 'm3', moving);
    // The copy's row chunks are read from its cut; its metadata only after they were sent. A
    // worker's requests land in between (the copy takes many event-loop turns): 'late' is
    // admitted and gets rows, then a push moves the clock on before the metadata is read.
    const copy = m.round(false);
    const first = copy.next();
    expect(first.done).to.equal(false);
    m.apply(first.value as Buffer);
    pull(src, late);
    push(src, stay);
    for (let c = copy.next(); !c.done; c = copy.next()) m.apply(c.value);
    push(src, stay);
    m.send(true);

    const s = src.store.getEmbedding('emb');
    const d = dst.store.getEmbedding('emb');
    expect(ages(s, moving).size, 'the hot rows and the late ones').to.equal(25);
    expect(ages(d, moving)).to.deep.equal(ages(s, moving));
  });

  it('a staged row whose tick runs ahead of the target\'s clock before the fence is not expired there (issue 17)', () => {
    // Two PS that take the same steps, one request each (a synchronous job): which of them counts
    // a step first is a race, so until the fence the target's estimate of the source's clock can
    // be a step or two off, and a staged row's tick ahead of the target's clock.
    const { src, dst, moving } = halves();
    const hot = idsWhere(0, 20, (b) => b < B / 4);
    const own = idsWhere(3000, 10, (b) => b >= B / 2);
    for (let i = 0; i < MIN_COUNT; i++) {
      pull(src, hot);
      pull(dst, own);
    }
    for (let step = 1; step <= 4; step++) {
      tagged(src, hot, step);
      tagged(dst, own, step);
    }
    tagged(dst, own, 5); // the target counts step 5 before the copy's metadata, the source after
    const m = migration(src, dst, 'm4', moving);
    m.send(false);
    tagged(src, hot, 5);
    tagged(src, hot, 6);
    pull(src, hot); // step 7's prefetched pull touches the rows before the target has step 6
    m.send(false);
    tagged(dst, own, 6);
    const d = dst.store.getEmbedding('emb');
    d.evictExpired(); // a TTL sweep of the target's own may pass the staged rows any time
    m.send(true);

    const s = src.store.getEmbedding('emb');
    expect(d.memoryCounters().evicted.ttl, 'staged rows evicted on the target').to.equal(0);
    expect(ages(d, moving).size).to.equal(20);
    expect(ages(d, moving)).to.deep.equal(ages(s, moving));
  });

  it('the ttl_steps clock counts each tagged step once per PS, and every untagged push (issue 17)', () => {
    const n = node([...Array(B).keys()]);
    const t = n.store.getEmbedding('emb');
    const ids = idsWhere(0, 4, () => true);
    const req = (step?: number) => ({
      table: 'emb', shardMapVersion: 1, ids: new Uint8Array(ids.buffer), grads: new Uint8Array(new Float32Array(ids.length).fill(0.01).buffer),
      encoding: Encoding.F32, ...(step === undefined ? {} : { stepTag: { client: 9n, step } }),
    });
    const clock = () => t.evictionClock();
    const at = clock();
    n.push(req());
    n.push(req());
    expect(clock() - at, 'untagged').to.equal(2);
    n.push(req(1));
    n.push(req(1)); // a re-routed part of step 1
    n.push(req(2));
    n.push(req(1)); // late, still among the recent steps
    expect(clock() - at, 'tagged').to.equal(4);
    expect([...t.evictionSteps()]).to.deep.equal([[9n, 2]]);
  });

  it('an expired row reads as evicted before the hand reaches it, so TTL does not depend on slot order', () => {
    const t = new EmbeddingTable({ name: 'e', dim: 2, optimizer: { kind: 'sgd', lr: 1 }, slabRows: 16, seed: 5, eviction: { ttlSteps: 2 } });
    const fresh = new EmbeddingTable({ name: 'e', dim: 2, optimizer: { kind: 'sgd', lr: 1 }, slabRows: 16, seed: 5 });
    const many = idsWhere(0, 1000, () => true);
    t.pull(many, new Float32Array(2000));
    const last = many.subarray(1998, 2000); // the last slot: far ahead of the hand
    t.push(last, Float32Array.of(1, 1));
    for (let i = 0; i < 3; i++) t.push(many.subarray(0, 2), Float32Array.of(0.5, 0.5));
    const got = new Float32Array(2);
    const want = new Float32Array(2);
    t.pull(last, got);
    fresh.pull(last, want);
    expect([...got]).to.deep.equal([...want]);
    expect(t.memoryCounters().evicted.ttl).to.be.at.least(1);
  });
});
