import { expect } from 'chai';
import { silentLogger } from '../../src/common/logger';
import { PsNode } from '../../src/ps/ps-node';
import { EmbeddingTable } from '../../src/ps/store/embedding-table';
import type { TableSpec } from '../../src/ps/store/table-store';
import { PsClient } from '../../src/client/ps-client';
import { dedup } from '../helpers/ids';
import { DATA_PLANES } from '../../src/wire/grpc-options';
import { createTestCluster, TestCluster } from '../helpers/ps';

const DIM = 8;
const SPEC: TableSpec = { name: 'emb', kind: 'embedding', dim: DIM, optimizer: { kind: 'adagrad', lr: 0.1 }, initializer: { kind: 'uniform', scale: 0.05 }, seed: 7 };

/** n distinct pseudo-random 64-bit ids. */
function randomIds(n: number, seed: number): Uint32Array {
  const ids = new Uint32Array(2 * n);
  let s = seed >>> 0;
  for (let i = 0; i < ids.length; i++) {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    ids[i] = s;
  }
  return dedup(ids).unique;
}

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

// Issue 18: every case runs on both data planes (grpc-js, and gRPC framing on node:http2; ADR 0038).
for (const dataPlane of DATA_PLANES) describe(`PS over real gRPC (2 servers on port 0), data plane ${dataPlane}`, function () {
  this.timeout(120_000);
  let c: TestCluster;
  afterEach(async () => c?.tearDown());

  it('pulls and pushes 1M distinct ids exactly like one in-process table', async () => {
    c = await createTestCluster(2, { dataPlane, maxInflightPushes: 2 });
    await c.client.admin.createTable(SPEC);
    const ref = new EmbeddingTable({ ...SPEC });
    const ids = randomIds(1_000_000, 1);
    const n = ids.length >>> 1;
    const pulled = await c.client.data.pull('emb', ids, DIM);
    const expected = new Float32Array(n * DIM);
    ref.pull(ids, expected);
    expect(Buffer.from(bits(pulled).buffer).equals(Buffer.from(bits(expected).buffer))).to.equal(true);

    for (let round = 0; round < 3; round++) {
      const grads = new Float32Array(n * DIM).map((_, i) => Math.sin(i * 0.001 + round));
      await c.client.data.push('emb', ids, grads);
      ref.push(ids, grads);
    }
    await c.client.data.flush();
    const after = await c.client.data.pull('emb', ids, DIM);
    ref.pull(ids, expected);
    expect(Buffer.from(bits(after).buffer).equals(Buffer.from(bits(expected).buffer))).to.equal(true);

    const stats = await c.client.admin.stats();
    const rows = stats.map((s) => s.tables[0].rows);
    expect(rows[0] + rows[1]).to.equal(n);
    expect(Math.min(...rows)).to.be.greaterThan(n * 0.45); // buckets spread rows evenly
  });

  it('returns duplicate ids in caller order and sums their gradients', async () => {
    c = await createTestCluster(2, { dataPlane });
    await c.client.admin.createTable(SPEC);
    const ids = new Uint32Array([5, 0, 9, 1, 5, 0, 5, 0]); // 5, 2^32+9, 5, 5
    const rows = await c.client.data.pull('emb', ids, DIM);
    expect(Array.from(rows.subarray(0, DIM))).to.deep.equal(Array.from(rows.subarray(2 * DIM, 3 * DIM)));
    const single = new EmbeddingTable({ ...SPEC });
    const g = new Float32Array(4 * DIM).fill(0.5);
    await c.client.data.push('emb', ids, g);
    await c.client.data.flush();
    single.push(new Uint32Array([5, 0, 9, 1]), new Float32Array([...new Float32Array(DIM).fill(1.5), ...new Float32Array(DIM).fill(0.5)]));
    const want = new Float32Array(2 * DIM);
    single.pull(new Uint32Array([5, 0, 9, 1]), want);
    const got = await c.client.data.pull('emb', new Uint32Array([5, 0, 9, 1]), DIM);
    for (let i = 0; i < want.length; i++) expect(got[i]).to.be.closeTo(want[i], 1e-6);
  });

  it('pulls into a caller-owned buffer, overwriting it whole, with or without duplicate ids', async () => {
    c = await createTestCluster(2, { dataPlane });
    await c.client.admin.createTable(SPEC);
    const distinct = randomIds(5_000, 3);
    const n = distinct.length >>> 1;
    const want = await c.client.data.pull('emb', distinct, DIM);
    const out = new Float32Array(n * DIM).fill(Number.NaN); // stale contents must not survive
    const got = await c.client.data.pull('emb', distinct, DIM, { out });
    expect(got).to.equal(out);
    expect(Buffer.from(bits(got).buffer).equals(Buffer.from(bits(want).buffer))).to.equal(true);

    const dups = new Uint32Array([...distinct.subarray(0, 4), ...distinct.subarray(0, 2)]); // ids 0, 1, 0
    const dupOut = new Float32Array(3 * DIM).fill(Number.NaN);
    await c.client.data.pull('emb', dups, DIM, { out: dupOut });
    expect(Array.from(dupOut)).to.deep.equal([...want.subarray(0, 2 * DIM), ...want.subarray(0, DIM)]);

    let err: unknown;
    await c.client.data.pull('emb', distinct, DIM, { out: new Float32Array(n * DIM - 1) }).catch((e: unknown) => { err = e; });
    expect(String(err)).to.match(new RegExp(`out: ${n * DIM - 1} values, expected ${n} ids × dim ${DIM}`));
    expect(Buffer.from(bits(await c.client.data.pull('emb', distinct, DIM)).buffer).equals(Buffer.from(bits(want).buffer))).to.equal(true);
  });

  it('serves dense tables from one owner', async () => {
    c = await createTestCluster(2, { dataPlane });
    await c.client.admin.createTable({ name: 'mlp', kind: 'dense', size: 1000, optimizer: { kind: 'sgd', lr: 0.5 }, initializer: { kind: 'zeros' } });
    await c.client.data.pushDense('mlp', new Float32Array(1000).fill(2));
    await c.client.data.flush();
    const v = await c.client.data.pullDense('mlp');
    expect(v.length).to.equal(1000);
    expect(v[0]).to.equal(-1);
    const owners = (await c.client.admin.stats()).filter((s) => s.tables.some((t) => t.name === 'mlp'));
    expect(owners).to.have.length(1);
  });

  // Issue 18 §3: the training loop's dense pull into its own buffer and its uncopied dense push.
  it('pulls a dense table into a caller buffer again and again, and pushes a given gradient as a copied one', async () => {
    c = await createTestCluster(2, { dataPlane });
    await c.client.admin.createTable({ name: 'mlp', kind: 'dense', size: 1000, optimizer: { kind: 'sgd', lr: 0.5 }, initializer: { kind: 'zeros' } });
    const out = new Float32Array(1000).fill(7);
    for (let step = 1; step <= 3; step++) {
      const given = Float32Array.from({ length: 1000 }, (_, i) => i % 3);
      await c.client.data.pushStep([], [{ table: 'mlp', grads: given, given: true }]);
      await c.client.data.pushStep([], [{ table: 'mlp', grads: Float32Array.from({ length: 1000 }, (_, i) => i % 3) }]);
      await c.client.data.flush();
      expect(await c.client.data.pullDense('mlp', out)).to.equal(out);
      expect(Array.from(out.subarray(0, 3))).to.deep.equal([0, -step, -2 * step]); // two pushes of lr 0.5 a step
      expect(Array.from(out)).to.deep.equal(Array.from(await c.client.data.pullDense('mlp')));
    }
    const err = await c.client.data.pullDense('mlp', new Float32Array(999)).catch((e: Error) => e);
    expect(String(err)).to.match(/out: 999 values, dense table "mlp" has 1000/);
  });

  it('moves values in fp16 on the wire within fp16 precision', async () => {
    c = await createTestCluster(2, { dataPlane, encoding: 'f16' });
    await c.client.admin.createTable(SPEC);
    const ref = new EmbeddingTable({ ...SPEC });
    const ids = randomIds(5000, 3);
    const got = await c.client.data.pull('emb', ids, DIM);
    const want = new Float32Array(got.length);
    ref.pull(ids, want);
    for (let i = 0; i < want.length; i++) expect(got[i]).to.be.closeTo(want[i], Math.abs(want[i]) * 2 ** -10 + 1e-7);
  });

  it('retries an unreachable PS until it answers, then fails with UNAVAILABLE past the deadline', async () => {
    c = await createTestCluster(1, { dataPlane });
    const dead = new PsClient({ shardMap: { ...c.map, ps: [{ id: 0, addr: '127.0.0.1:1' }] }, logger: silentLogger(), retryDeadlineMs: 300, callTimeoutMs: 200, dataPlane });
    try {
      const err = await dead.data.pull('emb', new Uint32Array([1, 0]), DIM).then(() => null, (e) => e);
      expect(err).to.have.property('code').that.is.oneOf(['TESSERA_ERR_UNAVAILABLE', 'TESSERA_ERR_DEADLINE']);
      expect(err.message).to.contain('127.0.0.1:1');
    } finally {
      dead.close();
    }
  });

  it('exposes PsNode logic without any transport (one node, direct calls)', () => {
    const node = new PsNode({ config: { maxRequestBytes: 1 << 20 }, logger: silentLogger() });
    expect(node.createTable(SPEC)).to.equal(true);
    expect(node.createTable(SPEC)).to.equal(false);
    let region = new Uint8Array(0);
    node.pull({ table: 'emb', shardMapVersion: 0, ids: new Uint8Array(16), encoding: 0 }, (bytes) => (region = new Uint8Array(bytes)));
    expect(region.byteLength).to.equal(2 * DIM * 4);
  });
});
