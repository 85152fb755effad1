/** Issue 17: the PS-side pieces of a bucket migration, in one process (no transport). */
import { expect } from 'chai';
import { ERROR_CODES, TesseraError } from '../../../src/common/errors';
import { silentLogger } from '../../../src/common/logger';
import { PsNode } from '../../../src/ps/ps-node';
import { EmbeddingTable } from '../../../src/ps/store/embedding-table';
import { TableStore } from '../../../src/ps/store/table-store';
import { IncomingMigrations } from '../../../src/ps/migration/incoming-migrations';
import { OutgoingMigration } from '../../../src/ps/migration/outgoing-migration';
import { bucketOf } from '../../../src/sharding/buckets';
import { Encoding } from '../../../src/wire/data-plane-codec';

const B = 64;

function ids(from: number, n: number): Uint32Array {
  return Uint32Array.from({ length: 2 * n }, (_, i) => (i % 2 === 0 ? Math.imul(from + (i >>> 1), 2654435761) >>> 0 : 0));
}

function node(owned: number[]): PsNode {
  const n = new PsNode({ config: { maxRequestBytes: 1 << 24 }, logger: silentLogger(), store: new TableStore({ slabRows: 16 }) });
  n.createTable({ name: 'emb', kind: 'embedding', dim: 4, optimizer: { kind: 'adagrad', lr: 0.1 }, seed: 3 });
  n.setShardMap(1, B, owned);
  return n;
}

function rows(t: EmbeddingTable): Map<number, string> {
  const m = new Map<number, string>();
  t.forEachRow((lo, _hi, w, s) => m.set(lo, Buffer.from(Float32Array.from([...w, ...s]).buffer).toString('hex')));
  return m;
}

describe('bucket migration on the PS (issue 17)', () => {
  it('clearBuckets removes every row of the buckets, however many the sweep shifts back (regression, issue 17)', () => {
    const t = new EmbeddingTable({ name: 'e', dim: 2, optimizer: { kind: 'sgd', lr: 0.1 }, slabRows: 16 });
    const all = ids(0, 3000);
    t.pull(all, new Float32Array(3000 * 2));
    const half = new Uint8Array(B).map((_, b) => (b % 2 === 0 ? 1 : 0));
    t.clearBuckets(half, B);
    let left = 0;
    t.forEachRow((lo, hi) => { if (half[bucketOf(lo, hi, B)] === 1) left++; });
    expect(left).to.equal(0);
    expect(t.size).to.be.greaterThan(1000);
  });

  it('copy, tail with pushes and new rows, fenced tail: the target holds the source rows bit for bit; the fence refuses only moving buckets', () => {
    const all = [...Array(B).keys()];
    const src = node(all);
    const dst = node([]);
    const moving = new Uint8Array(B).map((_, b) => (b < B / 4 ? 1 : 0));
    const push = (n: PsNode, k: Uint32Array, r: number) => n.push({ table: 'emb', shardMapVersion: 1, ids: new Uint8Array(k.buffer), grads: new Uint8Array(new Float32Array(k.length * 2).fill(0.01 * r).buffer), encoding: Encoding.F32 });
    const pull = (n: PsNode, k: Uint32Array) => n.pull({ table: 'emb', shardMapVersion: 1, ids: new Uint8Array(k.buffer), encoding: Encoding.F32 }, (bytes) => new Uint8Array(bytes));
    pull(src, ids(0, 500));
    push(src, ids(0, 500), 1);
    const out = new OutgoingMigration(src, { id: 'm1', buckets: moving, targetAddr: 'x:1' });
    const inc = new IncomingMigrations(dst);
    inc.stage('m1', moving);
    const send = (fence: boolean) => { for (const c of out.round(fence)) inc.apply('m1', c); };
    const gen = out.round(false);
    const first = gen.next(); // the cut is taken here; pushes after it go to the tail
    pull(src, ids(400, 300));
    push(src, ids(0, 700), 2);
    if (!first.done) inc.apply('m1', first.value);
    for (const c of gen) inc.apply('m1', c);
    send(false);
    push(src, ids(100, 50), 3);
    send(true);
    const moved = (m: Map<number, string>) => new Map([...m].filter(([lo]) => moving[bucketOf(lo, 0, B)] === 1));
    expect(moved(rows(dst.store.getEmbedding('emb')))).to.deep.equal(moved(rows(src.store.getEmbedding('emb'))));
    expect(rows(dst.store.getEmbedding('emb')).size).to.equal(moved(rows(src.store.getEmbedding('emb'))).size);
    const k = ids(0, 700);
    const one = (i: number) => k.slice(2 * i, 2 * i + 2);
    const iMove = [...Array(700).keys()].find((i) => moving[bucketOf(k[2 * i], 0, B)] === 1)!;
    const iStay = [...Array(700).keys()].find((i) => moving[bucketOf(k[2 * i], 0, B)] === 0)!;
    expect(() => push(src, one(iMove), 4)).to.throw(TesseraError).with.property('code', ERROR_CODES.UNAVAILABLE);
    expect(push(src, one(iStay), 4)).to.equal(1);
    out.release();
    expect(push(src, one(iMove), 4)).to.equal(1);
  });
});
