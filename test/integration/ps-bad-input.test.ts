import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import { silentLogger } from '../../src/common/logger';
import { startPsServer, PsServer } from '../../src/ps/ps-server';
import { Encoding } from '../../src/wire/data-plane-codec';
import { PsConnection } from '../../src/wire/ps-connection';
import { DATA_PLANES } from '../../src/wire/grpc-options';
import { tableSpecToWire } from '../../src/ps/table-spec-wire';
import type { TableSpec } from '../../src/ps/store/table-store';

const DIM = 4;
const SPEC: TableSpec = { name: 'emb', kind: 'embedding', dim: DIM, optimizer: { kind: 'sgd', lr: 1 }, initializer: { kind: 'uniform', scale: 0.1 }, seed: 3 };
const IDS = Buffer.from(new BigUint64Array([1n, 2n, 3n]).buffer);

type Send = 'stream' | 'unary';

/** Issue #2, "Bad input": each case is rejected with a clear message, the PS keeps serving and the table is unchanged. */
// Issue 18: every case runs on both data planes (grpc-js, and gRPC framing on node:http2; ADR 0038).
for (const dataPlane of DATA_PLANES) describe(`PS rejects bad input and keeps serving (real gRPC), data plane ${dataPlane}`, function () {
  this.timeout(20_000);
  let ps: PsServer;
  let conn: PsConnection;

  beforeEach(async () => {
    ps = await startPsServer({ port: 0, maxRequestBytes: 4096, logger: silentLogger(), dataPlane });
    conn = new PsConnection({ addr: ps.addr, maxMessageBytes: 1 << 20, dataPlane });
    await conn.adminCall('CreateTable', { spec: tableSpecToWire(SPEC) }, 5000);
  });
  afterEach(async () => {
    conn.close();
    await ps.stop();
  });

  async function snapshot(): Promise<Buffer> {
    const res = await conn.pull({ table: 'emb', shardMapVersion: 0, ids: IDS, encoding: Encoding.F32, requestId: 0 }, 5000);
    return Buffer.from(res.values);
  }

  async function push(via: Send, over: Partial<{ table: string; ids: Uint8Array; grads: Uint8Array; version: number }>) {
    const req = {
      table: over.table ?? 'emb', shardMapVersion: over.version ?? 0, ids: over.ids ?? IDS,
      grads: over.grads ?? Buffer.from(new Float32Array(3 * DIM).fill(0.5).buffer), encoding: Encoding.F32, requestId: 0,
    };
    return (via === 'stream' ? conn.push(req, 5000) : conn.pushUnary(req, 5000)).then(() => null, (e) => e);
  }

  const nan = new Float32Array(3 * DIM).fill(0.1);
  nan[5] = NaN;
  const inf = new Float32Array(3 * DIM).fill(0.1);
  inf[11] = -Infinity;
  const cases: [string, Parameters<typeof push>[1], string, RegExp][] = [
    ['ids not a multiple of 8 bytes', { ids: IDS.subarray(0, 20) }, 'TESSERA_ERR_BAD_IDS', /ids.*20 bytes.*multiple of 8/],
    ['gradient length ≠ ids × dim', { grads: Buffer.from(new Float32Array(3 * DIM - 1).buffer) }, 'TESSERA_ERR_BAD_GRADIENT', /grads/],
    ['a NaN gradient', { grads: Buffer.from(nan.buffer) }, 'TESSERA_ERR_NON_FINITE', /grad.*NaN|NaN.*grad/i],
    ['an Inf gradient', { grads: Buffer.from(inf.buffer) }, 'TESSERA_ERR_NON_FINITE', /Inf/i],
    ['an unknown table', { table: 'nope' }, 'TESSERA_ERR_UNKNOWN_TABLE', /nope/],
    ['a dim mismatch (rows of dim 8 for a dim-4 table)', { grads: Buffer.from(new Float32Array(3 * 8).buffer) }, 'TESSERA_ERR_BAD_GRADIENT', /grads/],
    ['an oversized request', { ids: Buffer.alloc(8 * 600) }, 'TESSERA_ERR_TOO_LARGE', /max_request_bytes 4096/],
    ['a stale shard-map version', { version: 5 }, 'TESSERA_ERR_STALE_SHARD_MAP', /version 5.*version 0/],
  ];

  for (const via of ['stream', 'unary'] as Send[]) {
    for (const [name, over, code, message] of cases) {
      it(`${via}: ${name} → ${code}, table unchanged`, async () => {
        const before = await snapshot();
        const err = await push(via, over);
        expect(err, 'push should fail').to.not.equal(null);
        expect(err.code).to.equal(code);
        expect(err.message).to.match(message);
        expect((await snapshot()).equals(before)).to.equal(true);
        expect(await push(via, {})).to.equal(null); // still serving
      });
    }
  }

  it('maps errors to gRPC status codes on unary calls', async () => {
    const client = new grpc.Client(ps.addr, grpc.credentials.createInsecure());
    const status = (path: string, msg: Buffer) => new Promise<grpc.ServiceError>((resolve) => {
      client.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, msg, (err) => resolve(err as grpc.ServiceError));
    });
    const { encodePullRequest } = await import('../../src/wire/data-plane-codec');
    const pullOf = (table: string, version: number, ids: Uint8Array) => encodePullRequest({ table, shardMapVersion: version, ids, encoding: 0, requestId: 1 });
    expect((await status('/tessera.v1.ParameterServer/Pull', pullOf('nope', 0, IDS))).code).to.equal(grpc.status.NOT_FOUND);
    expect((await status('/tessera.v1.ParameterServer/Pull', pullOf('emb', 0, IDS.subarray(0, 7)))).code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect((await status('/tessera.v1.ParameterServer/Pull', pullOf('emb', 3, IDS))).code).to.equal(grpc.status.FAILED_PRECONDITION);
    client.close();
  });

  it('refuses a CreateTable whose spec differs from the existing table, naming the difference', async () => {
    const err = await conn.adminCall('CreateTable', { spec: tableSpecToWire({ ...SPEC, dim: 8 }) }, 5000).then(() => null, (e) => e);
    expect(err.code).to.equal('TESSERA_ERR_TABLE_EXISTS');
    expect(err.message).to.match(/emb/);
  });

  it('refuses pulls for buckets this PS does not own once a shard map is installed', async () => {
    await conn.adminCall('SetShardMap', { version: 1, psIndex: 0, numBuckets: 4, ownedBuckets: Buffer.from(new Uint32Array([0]).buffer) }, 5000);
    const res = await conn.pull({ table: 'emb', shardMapVersion: 1, ids: Buffer.from(new BigUint64Array([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n]).buffer), encoding: 0, requestId: 0 }, 5000)
      .then(() => null, (e) => e);
    expect(res.code).to.equal('TESSERA_ERR_WRONG_SHARD');
    expect(res.message).to.match(/bucket \d+/);
  });

  it('answers the standard gRPC health check', async () => {
    const { healthService } = await import('../../src/wire/services');
    const Health = healthService();
    const h = new Health(ps.addr, grpc.credentials.createInsecure()) as unknown as grpc.Client & { Check: Function };
    const res = await new Promise<{ status: string }>((resolve, reject) => h.Check({ service: '' }, (e: Error, r: { status: string }) => (e ? reject(e) : resolve(r))));
    expect(res.status).to.equal('SERVING');
    h.close();
  });
});
