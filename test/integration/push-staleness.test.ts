/**
 * Issue 19 §4: staleness that means staleness. Two clients of the same two PS (real gRPC servers
 * on port 0): one pulls rows with their versions, the other pushes to some of them, and the
 * first one's push reports, per row, exactly the number of updates that landed in between.
 */
import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import { silentLogger } from '../../src/common/logger';
import { PsClient } from '../../src/client/ps-client';
import type { TableSpec } from '../../src/ps/store/table-store';
import { decodePullResponse, encodePullRequest, Encoding } from '../../src/wire/data-plane-codec';
import { asBytes, idsFrom } from '../../src/wire/key-block';
import { ownerOf } from '../../src/sharding/shard-map';
import { createTestCluster, TestCluster } from '../helpers/ps';

const DIM = 4;
const SPEC: TableSpec = { name: 'emb', kind: 'embedding', dim: DIM, optimizer: { kind: 'sgd', lr: 0.01 } };
const N = 400;

/** Ids 0..n-1 (spread over both PS by their buckets) and a gradient for them. */
function batch(from: number, n: number): { ids: Uint32Array; grads: Float32Array } {
  return { ids: idsFrom(Array.from({ length: n }, (_, i) => from + i)), grads: new Float32Array(n * DIM).fill(0.01) };
}

describe('push staleness between two clients (issue 19)', function () {
  this.timeout(60_000);
  let c: TestCluster;
  let other: PsClient;
  afterEach(async () => {
    other?.close();
    await c?.tearDown();
  });

  /** Client A reports staleness into `seen`; client B (synchronous) pushes in between. */
  async function setUp(seen: number[][]): Promise<void> {
    c = await createTestCluster(2, { maxInflightPushes: 0, onStaleness: (u) => seen.push(Array.from(u)) });
    other = new PsClient({ shardMap: c.map, logger: silentLogger(), maxInflightPushes: 0 });
    await c.client.admin.createTable(SPEC);
  }

  it('equals the number of updates other pushes applied between the pull and the push, per row', async () => {
    const seen: number[][] = [];
    await setUp(seen);
    const all = batch(0, N);
    const read = new Uint32Array(N);
    await c.client.data.pull('emb', all.ids, DIM, { versions: read });
    expect(new Set(read)).to.deep.equal(new Set([0]));
    expect(c.map.ps.length).to.equal(2);

    // B updates rows 0..99 three times and rows 100..199 once; rows 200.. are left alone.
    for (let k = 0; k < 3; k++) await other.data.push('emb', batch(0, 100).ids, batch(0, 100).grads);
    await other.data.push('emb', batch(100, 100).ids, batch(100, 100).grads);

    await c.client.data.push('emb', all.ids, all.grads, read);
    await c.client.data.flush();
    const updates = seen.flat();
    expect(updates).to.have.length(N, 'one figure per row, from both PS');
    const counts = new Map<number, number>();
    for (const u of updates) counts.set(u, (counts.get(u) ?? 0) + 1);
    expect([...counts].sort((x, y) => x[0] - y[0])).to.deep.equal([[0, 200], [1, 100], [3, 100]]);

    // A pushes again from the same pull: its own first push landed in between too.
    seen.length = 0;
    await c.client.data.push('emb', batch(0, 100).ids, batch(0, 100).grads, read.subarray(0, 100));
    await c.client.data.flush();
    expect(seen.flat()).to.deep.equal(new Array(100).fill(4));
  });

  it('measures rows repeated in a batch once, in caller order, and counts interleaved async pushes exactly', async () => {
    const seen: number[][] = [];
    await setUp(seen);
    const ids = idsFrom([5, 6, 5, 7, 5]);
    const read = new Uint32Array(5);
    await c.client.data.push('emb', idsFrom([5]), new Float32Array(DIM).fill(0.01)); // row 5 at version 1
    await c.client.data.pull('emb', ids, DIM, { versions: read });
    expect(Array.from(read)).to.deep.equal([1, 0, 1, 0, 1]);
    const async = new PsClient({ shardMap: c.map, logger: silentLogger(), maxInflightPushes: 4 });
    try {
      for (let k = 0; k < 5; k++) await async.data.push('emb', idsFrom([5, 7]), new Float32Array(2 * DIM).fill(0.01));
      await async.data.flush();
    } finally {
      async.close();
    }
    seen.length = 0;
    await c.client.data.push('emb', ids, new Float32Array(5 * DIM).fill(0.01), read);
    await c.client.data.flush();
    expect(seen.flat().sort()).to.deep.equal([0, 5, 5], 'rows 5, 6 and 7 once each');
  });

  it('asks for versions only when told: an ordinary pull gets none, and a push without readVersions reports nothing', async () => {
    const seen: number[][] = [];
    await setUp(seen);
    const all = batch(0, 10);
    await c.client.data.pull('emb', all.ids, DIM);
    await c.client.data.push('emb', all.ids, all.grads);
    await c.client.data.flush();
    expect(seen).to.deep.equal([]);

    // An old client's request (no want_versions) gets an answer without the versions field.
    const raw = new grpc.Client(c.map.ps[ownerOf(c.map, 1, 0)].addr, grpc.credentials.createInsecure());
    try {
      const ids = asBytes(idsFrom([1]));
      const req = { table: 'emb', shardMapVersion: c.map.version, ids, encoding: Encoding.F32, requestId: 1 };
      const call = (wantVersions: boolean) => new Promise<ReturnType<typeof decodePullResponse>>((resolve, reject) => {
        raw.makeUnaryRequest('/tessera.v1.ParameterServer/Pull', encodePullRequest, decodePullResponse, { ...req, wantVersions },
          (err, res) => (err ? reject(err) : resolve(res!)));
      });
      const plain = await call(false);
      expect(plain.versions).to.equal(undefined);
      expect(plain.values.byteLength).to.equal(DIM * 4);
      const asked = await call(true);
      expect(asked.versions!.byteLength).to.equal(4);
    } finally {
      raw.close();
    }
  });
});
