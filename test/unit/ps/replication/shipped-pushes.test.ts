import { expect } from 'chai';
import { silentLogger } from '../../../../src/common/logger';
import { PsNode } from '../../../../src/ps/ps-node';
import { LoopSlicer } from '../../../../src/ps/replication/replica-promotion';
import { ReplicaStore } from '../../../../src/ps/replication/replica-store';
import { ReplicationLog } from '../../../../src/ps/replication/replication-log';
import { decodeShippedPush, encodeShippedPush } from '../../../../src/ps/replication/shipped-pushes';
import type { TableSpec } from '../../../../src/ps/store/table-store';
import { tableSpecFromWire, tableSpecToWire, WireTableSpec } from '../../../../src/ps/table-spec-wire';
import { Encoding } from '../../../../src/wire/data-plane-codec';
import { asBytes } from '../../../../src/wire/key-block';

// Issue 17 §2 (ADR 0037, amendment 2): pushes shipped to the buddy as they were applied, and the
// dense table the buddy lacks, created at promotion from the primary's replicated spec.
const NB = 16;
const ALL = new Uint8Array(NB).fill(1);
const SPECS: TableSpec[] = [
  { name: 'emb', kind: 'embedding', dim: 4, optimizer: { kind: 'adam', lr: 0.01 }, initializer: { kind: 'uniform', scale: 0.1 }, seed: 7 },
  { name: 'half', kind: 'embedding', dim: 4, optimizer: { kind: 'adagrad', lr: 0.1 }, weightFormat: 'f16', seed: 3 },
  { name: 'admitted', kind: 'embedding', dim: 4, optimizer: { kind: 'sgd', lr: 0.1 }, admission: { minCount: 1 } },
  { name: 'mlp', kind: 'dense', size: 5, optimizer: { kind: 'adam', lr: 0.01 }, initializer: { kind: 'normal', std: 0.3 }, seed: 11 },
];
const ids = (xs: number[]) => Uint32Array.from(xs.flatMap((x) => [x, x >>> 3]));
const grads = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.7 + k));

function node(tables: readonly TableSpec[]): PsNode {
  const n = new PsNode({ config: { maxRequestBytes: 1 << 24 }, logger: silentLogger() });
  for (const t of tables) n.createTable(t);
  n.setShardMap(1, NB, null);
  return n;
}
function push(n: PsNode, table: string, xs: number[], k: number, seq: number): void {
  n.push({ table, shardMapVersion: 1, ids: asBytes(ids(xs)), grads: asBytes(grads(xs.length * 4, k)), encoding: Encoding.F32, clientId: 9n, pushSeq: seq });
}
function pushDense(n: PsNode, k: number, seq: number): void {
  n.push({ table: 'mlp', shardMapVersion: 1, ids: new Uint8Array(0), grads: asBytes(grads(5, k)), encoding: Encoding.F32, clientId: 9n, pushSeq: seq });
}
/** Every table of `n` as `name → id: weight bits|state bits` (dense: one entry). */
function bits(n: PsNode): Record<string, string> {
  const out: Record<string, string> = {};
  const hex = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');
  for (const info of n.store.list()) {
    const t = n.store.get(info.name);
    if (info.kind === 'dense') {
      const d = n.store.getDense(info.name);
      out[info.name] = `${hex(d.values)}|${hex(d.state)}`;
      continue;
    }
    n.store.getEmbedding(t.name).forEachRow((lo, hi, w, s) => { out[`${t.name} ${lo}:${hi}`] = `${hex(w)}|${hex(s)}`; });
  }
  return out;
}
/** A batch as it crosses the wire: specs to the wire and back. */
function wire<T extends { specs: TableSpec[] }>(b: T): T {
  return { ...b, specs: b.specs.map((s) => tableSpecFromWire(tableSpecToWire(s) as unknown as WireTableSpec)) };
}
function pair() {
  const primary = node(SPECS);
  const log = new ReplicationLog(primary, { primaryId: 4 });
  primary.onApplied = (t, i, c, s, r, g) => log.applied(t, i, c, s, r, g);
  const buddy = node(SPECS.filter((t) => t.kind === 'embedding')); // a dense table lives on its owner only
  // Slices of 0 ms: the promotion gives the event loop a turn at every look at the clock.
  return { primary, log, buddy, store: new ReplicaStore(buddy, () => new LoopSlicer(0)) };
}

describe('shipped pushes and replicated table specs (issue 17 §2)', () => {
  it('ships pushes to tables without admission or eviction; the promoted replica equals the primary bit for bit (adam, f16, dense)', async () => {
    const { primary, log, buddy, store } = pair();
    for (let k = 1; k <= 6; k++) {
      push(primary, 'emb', [k, k + 1, 40 + k, k], k, 3 * k);
      push(primary, 'half', [k, 2 * k, 100], k, 3 * k + 1);
      pushDense(primary, k, 3 * k + 2);
      if (k % 2 === 0) {
        const b = log.cut(1 << 16)!;
        expect(b.pushes.length, 'the emb and half pushes since the last cut').to.equal(4);
        expect(b.specs.map((s) => s.name).sort()).to.deep.equal(['emb', 'half', 'mlp']);
        store.apply(wire(b));
        log.acked(b);
      }
    }
    expect(log.lagSeconds()).to.equal(0);
    const p = await store.promote(4, ALL);
    expect(p.dense, 'the dense table, which the buddy lacked').to.equal(1);
    expect(bits(buddy)).to.deep.equal(bits(primary));
    expect(buddy.store.spec('mlp'), 'created from the primary\'s spec').to.deep.equal(primary.store.spec('mlp'));
    expect(buddy.createTable(SPECS[3]), 'the job\'s own CreateTable finds it identical').to.equal(false);
    pushDense(buddy, 9, 100);
    pushDense(primary, 9, 100);
    expect(bits(buddy).mlp, 'a dense push after the promotion applies as on the primary').to.equal(bits(primary).mlp);
  });

  it('sends rows, not pushes, for a table with admission, and for a table whose full copy is still under way', async () => {
    const { primary, buddy, store } = pair();
    ['admitted', 'emb', 'half'].forEach((t, i) => push(primary, t, [1, 2, 3], 1, i + 1));
    const replica = new ReplicationLog(primary, { primaryId: 4 }); // a new buddy: a full copy of 3 tables
    primary.onApplied = (t, i, c, s, r, g) => replica.applied(t, i, c, s, r, g);
    const first = replica.cut(1)!; // one table's rows per batch, in name order ('admitted' admitted none yet)
    expect(first.specs.map((x) => x.name), 'emb\'s rows and the dense table').to.deep.equal(['emb', 'mlp']);
    store.apply(wire(first));
    push(primary, 'admitted', [3, 4], 2, 11);
    push(primary, 'emb', [2, 5], 2, 12); // its rows went in a batch already: shipped
    push(primary, 'half', [2, 6], 2, 13); // its rows are still pending: read at the cut, not shipped
    // Shipped pushes beyond maxRows still leave room for a pending table: the copy moves on (the
    // fault test saw a copy that never completed while pushes kept coming).
    const third = replica.cut(1)!;
    expect(third.pushes.map((b) => decodeShippedPush(b, 'test').table)).to.deep.equal(['emb']);
    expect(third.specs.map((x) => x.name)).to.include('half');
    store.apply(wire(third));
    push(primary, 'admitted', [7], 3, 14);
    push(primary, 'half', [6, 8], 3, 15);
    const fourth = replica.cut(1 << 16)!;
    expect(fourth.pushes.map((b) => decodeShippedPush(b, 'test').table), 'admission decisions are the primary\'s: rows').to.deep.equal(['half']);
    store.apply(wire(fourth));
    await store.promote(4, ALL);
    expect(bits(buddy)).to.deep.equal(bits(primary));
  });

  it('a table the primary created again with another spec is replicated anew, not pushed into the old replica', async () => {
    const primary = node(SPECS);
    const log = new ReplicationLog(primary, { primaryId: 4 });
    primary.onApplied = (t, i, c, s, r, g) => log.applied(t, i, c, s, r, g);
    const buddy = node([]);
    const store = new ReplicaStore(buddy);
    push(primary, 'emb', [1, 2], 1, 1);
    store.apply(wire(log.cut(1 << 16)!));
    primary.dropTable('emb');
    primary.createTable({ ...SPECS[0], optimizer: { kind: 'sgd', lr: 0.5 } } as TableSpec);
    push(primary, 'emb', [2, 3], 2, 2);
    store.apply(wire(log.cut(1 << 16)!));
    await store.promote(4, ALL);
    expect(Object.keys(bits(buddy)).sort()).to.deep.equal(['emb 2:0', 'emb 3:0', 'mlp']);
    expect(bits(buddy)).to.deep.equal(bits(primary));
  });

  it('an f16 replica built from shipped pushes is promoted across many time slices, bit for bit (ADR 0044)', async () => {
    const { primary, log, buddy, store } = pair();
    const many = Array.from({ length: 3000 }, (_, i) => i + 1);
    for (let k = 1; k <= 3; k++) push(primary, 'half', many, k, k);
    const b = log.cut(1 << 16)!;
    expect(b.pushes.length, 'the pushes went shipped, not as rows').to.equal(3);
    store.apply(wire(b));
    log.acked(b);
    const p = await store.promote(4, ALL);
    expect(p.rows, 'every row of the f16 table (the others hold none)').to.equal(3000);
    expect(p.slices, 'an index of more than 3,000 slots, a turn every 1,024').to.be.greaterThan(3);
    expect(bits(buddy)).to.deep.equal(bits(primary));
  });

  it('refuses a damaged push with a line naming it', () => {
    const bytes = encodeShippedPush('emb', ids([1, 2]), grads(8, 1));
    expect(decodeShippedPush(bytes, 'x').grads).to.deep.equal(grads(8, 1));
    const odd = Buffer.alloc(bytes.length + 1);
    bytes.copy(odd, 1);
    expect([...decodeShippedPush(odd.subarray(1), 'x').ids], 'unaligned bytes are copied').to.deep.equal([...ids([1, 2])]);
    bytes[bytes.length - 1] ^= 1;
    expect(() => decodeShippedPush(bytes, 'batch 3 push 0')).to.throw(/pushes: batch 3 push 0 fails its CRC-32/);
    expect(() => decodeShippedPush(bytes.subarray(0, 6), 'p')).to.throw(/shorter than its header/);
  });
});
