/**
 * Issue 17 §2, push throughput with replication (ADR 0037, amendment 3): the primary writes each
 * shipped push once into the batch's wire buffer, the Replicate encoder finishes the message in
 * that buffer, and the buffer is reused two batches later. These tests pin what that must keep:
 * the bytes are a ReplicaBatch the proto's own decoder reads back field for field, with the pushes
 * 4-byte aligned where a gRPC receiver places the message (so the buddy reads them as views), and
 * a replica fed through the wire over many reused buffers equals the primary bit for bit.
 */
import { expect } from 'chai';
import { silentLogger } from '../../../../src/common/logger';
import { useNativeRows } from '../../../../src/common/native-rows';
import { PsNode } from '../../../../src/ps/ps-node';
import { ReplicaStore } from '../../../../src/ps/replication/replica-store';
import { ReplicaBatch, ReplicationLog } from '../../../../src/ps/replication/replication-log';
import { decodeShippedPush } from '../../../../src/ps/replication/shipped-pushes';
import type { TableSpec } from '../../../../src/ps/store/table-store';
import { tableSpecFromWire, tableSpecToWire, WireTableSpec } from '../../../../src/ps/table-spec-wire';
import { Encoding } from '../../../../src/wire/data-plane-codec';
import { asBytes } from '../../../../src/wire/key-block';
import { GRPC_FRAME_HEADER } from '../../../../src/wire/proto-bytes';
import { psReplicationService } from '../../../../src/wire/services';

const NB = 16;
const ALL = new Uint8Array(NB).fill(1);
const SPECS: TableSpec[] = [
  { name: 'emb', kind: 'embedding', dim: 16, optimizer: { kind: 'adagrad', lr: 0.05 } },
  { name: 'odd', kind: 'embedding', dim: 3, optimizer: { kind: 'adam', lr: 0.01 }, initializer: { kind: 'uniform', scale: 0.1 }, seed: 5 },
  { name: 'half', kind: 'embedding', dim: 4, optimizer: { kind: 'adagrad', lr: 0.1 }, weightFormat: 'f16', seed: 3 },
  { name: 'mlp', kind: 'dense', size: 5, optimizer: { kind: 'sgd', lr: 0.1 } },
];
const replicate = psReplicationService().service.Replicate;

function node(tables: readonly TableSpec[]): PsNode {
  const n = new PsNode({ config: { maxRequestBytes: 1 << 24 }, logger: silentLogger() });
  for (const t of tables) n.createTable(t);
  n.setShardMap(1, NB, null);
  return n;
}
let seq = 0;
function push(n: PsNode, table: string, dim: number, xs: number[], k: number): void {
  const ids = Uint32Array.from(xs.flatMap((x) => [x, x >>> 2]));
  const grads = Float32Array.from({ length: xs.length * dim }, (_, i) => Math.sin(i * 0.37 + k) * (table === 'emb' ? 1e-3 : 1));
  n.push({ table, shardMapVersion: 1, ids: asBytes(ids), grads: asBytes(grads), encoding: Encoding.F32, clientId: 3n, pushSeq: ++seq });
}
/** `batch` as grpc-js carries it: encoded, framed (the message 5 bytes into a fresh buffer), decoded. */
function overTheWire(batch: ReplicaBatch): Omit<ReplicaBatch, 'oldestMs'> {
  const { oldestMs: _o, ...rest } = batch;
  const bytes = replicate.requestSerialize({ ...rest, specs: batch.specs.map(tableSpecToWire) });
  const framed = Buffer.alloc(GRPC_FRAME_HEADER + bytes.length);
  bytes.copy(framed, GRPC_FRAME_HEADER);
  const got = replicate.requestDeserialize(framed.subarray(GRPC_FRAME_HEADER)) as Omit<ReplicaBatch, 'oldestMs' | 'specs'> & { specs: WireTableSpec[] };
  return { ...got, specs: got.specs.map(tableSpecFromWire) };
}
function bits(n: PsNode, tables: string[]): string[] {
  const out: string[] = [];
  const hex = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');
  for (const t of tables) n.store.getEmbedding(t).forEachRow((lo, hi, w, s) => out.push(`${t} ${lo}:${hi} ${hex(w)}|${hex(s)}`));
  return out.sort();
}

describe('the Replicate request finished in the primary\'s push buffer (issue 17 §2, ADR 0037 amendment 3)', () => {
  it('encodes a ReplicaBatch the proto\'s decoder reads field for field, with every push aligned for views; twice gives the same bytes', () => {
    const primary = node(SPECS);
    const log = new ReplicationLog(primary, { primaryId: 6 });
    primary.onApplied = (t, i, c, s, r, g) => log.applied(t, i, c, s, r, g);
    log.acked(log.cut(1 << 16)!); // the reset's (empty) copy
    push(primary, 'emb', 16, [1, 2, 3], 1);
    push(primary, 'odd', 3, [4, 5], 2);
    push(primary, 'emb', 16, [2, 9], 3);
    const b = log.cut(1 << 16)!;
    expect(b.pushesWire, 'the pushes were written into the wire buffer').to.not.equal(undefined);
    const once = replicate.requestSerialize({ ...b, specs: b.specs.map(tableSpecToWire) });
    const twice = replicate.requestSerialize({ ...b, specs: b.specs.map(tableSpecToWire) });
    expect(Buffer.compare(once, twice)).to.equal(0);
    const got = overTheWire(b);
    expect(got.primaryId).to.equal(6);
    expect(got.batchSeq).to.equal(b.batchSeq);
    expect(got.complete).to.equal(true);
    expect(got.pushesApplied).to.equal(b.pushesApplied);
    expect(got.appliedAtMs).to.equal(b.appliedAtMs);
    expect(Buffer.compare(got.applied, b.applied), 'the dedup identities').to.equal(0);
    expect(got.specs.map((s) => s.name).sort()).to.deep.equal(['emb', 'odd']);
    expect(got.pushes.map((p) => Buffer.from(p).toString('hex'))).to.deep.equal(b.pushes.map((p) => Buffer.from(p).toString('hex')));
    for (const p of got.pushes) {
      expect(p.byteOffset % 4, 'a push the buddy reads as views, not copies').to.equal(0);
      const d = decodeShippedPush(p, 'test');
      expect(d.ids.buffer, 'ids are a view of the received message').to.equal(p.buffer);
    }
  });

  it('a batch without shipped pushes (a full copy\'s rows, a dense table) is encoded whole by the proto\'s codec', () => {
    const primary = node(SPECS);
    push(primary, 'emb', 16, [1, 2], 1);
    const log = new ReplicationLog(primary, { primaryId: 2 });
    primary.onApplied = (t, i, c, s, r, g) => log.applied(t, i, c, s, r, g);
    const b = log.cut(1 << 16)!;
    expect(b.pushesWire).to.equal(undefined);
    const got = overTheWire(b);
    expect(got.reset).to.equal(true);
    expect(Buffer.compare(got.chunks, b.chunks)).to.equal(0);
  });

  for (const native of [true, false]) {
    it(`a replica fed over the wire through 12 batches, the buffers reused, equals the primary bit for bit (${native ? 'native' : 'JavaScript'} kernels)`, async () => {
      const was = useNativeRows(native);
      try {
        const primary = node(SPECS);
        const log = new ReplicationLog(primary, { primaryId: 1 });
        primary.onApplied = (t, i, c, s, r, g) => log.applied(t, i, c, s, r, g);
        const buddy = node([]);
        const store = new ReplicaStore(buddy);
        const wires = new Set<unknown>();
        for (let k = 1; k <= 12; k++) {
          const many = Array.from({ length: 40 * k }, (_, i) => (i * 7 + k) % 300);
          push(primary, 'emb', 16, many, k);
          push(primary, 'odd', 3, many.slice(0, 9), k);
          push(primary, 'half', 4, many.slice(5, 30), k);
          push(primary, 'emb', 16, [k, k, k + 1], k); // a repeated id: gradients summed
          const b = log.cut(1 << 16)!;
          if (b.pushesWire) wires.add(b.pushesWire);
          store.apply(overTheWire(b));
          log.acked(b);
        }
        expect(wires.size, 'two buffers take turns').to.equal(2);
        await store.promote(1, ALL);
        expect(bits(buddy, ['emb', 'odd', 'half'])).to.deep.equal(bits(primary, ['emb', 'odd', 'half']));
      } finally {
        useNativeRows(was);
      }
    });
  }
});
