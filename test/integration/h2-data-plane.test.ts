/**
 * Issue 18: what the node:http2 data plane (ADR 0038) does beyond the cases every data-plane test
 * runs on both planes: clients of either plane talk to a PS of either plane (the wire is the same
 * gRPC), a unary call whose body never completes ends DEADLINE_EXCEEDED at the caller's
 * grpc-timeout, and a compressed message is refused while the PS serves on.
 */
import * as http2 from 'node:http2';
import { expect } from 'chai';
import { PsClient } from '../../src/client/ps-client';
import { silentLogger } from '../../src/common/logger';
import { planShardMap } from '../../src/sharding/shard-map';
import { startPsServer, PsServer } from '../../src/ps/ps-server';
import { encodePullRequest, Encoding } from '../../src/wire/data-plane-codec';
import { DATA_PLANES } from '../../src/wire/grpc-options';
import { frameMessage } from '../../src/wire/grpc-frames';
import { f32FromBytes, idsFrom } from '../../src/wire/key-block';
import { PsConnection } from '../../src/wire/ps-connection';

const IDS = Buffer.from(new BigUint64Array([5n, 6n]).buffer);
const pullReq = { table: 'emb', shardMapVersion: 0, ids: IDS, encoding: Encoding.F32, requestId: 0 };

/** Status headers of a raw HTTP/2 gRPC call (trailers, or a trailers-only response). */
function statusOf(req: http2.ClientHttp2Stream): Promise<{ status: string; message: string }> {
  return new Promise((resolve) => {
    const done = (h: http2.IncomingHttpHeaders) => {
      if (h['grpc-status'] !== undefined) resolve({ status: String(h['grpc-status']), message: decodeURIComponent(String(h['grpc-message'] ?? '')) });
    };
    req.on('response', done);
    req.on('trailers', done);
    req.on('data', () => undefined);
  });
}

describe('the node:http2 data plane (issue 18)', function () {
  this.timeout(20_000);
  const servers: PsServer[] = [];
  const conns: PsConnection[] = [];
  let session: http2.ClientHttp2Session | undefined;
  afterEach(async () => {
    session?.destroy();
    conns.splice(0).forEach((c) => c.close());
    await Promise.all(servers.splice(0).map((s) => s.stop()));
  });

  async function ps(dataPlane: 'grpc-js' | 'http2'): Promise<PsServer> {
    const s = await startPsServer({ port: 0, maxRequestBytes: 1 << 20, logger: silentLogger(), dataPlane });
    s.node.createTable({ name: 'emb', kind: 'embedding', dim: 2, optimizer: { kind: 'sgd', lr: 1 }, initializer: { kind: 'constant', value: 0.25 } });
    servers.push(s);
    return s;
  }

  for (const server of DATA_PLANES) {
    for (const client of DATA_PLANES) {
      it(`a ${client} client pulls and pushes on a ${server} PS, streamed and unary`, async () => {
        const s = await ps(server);
        const c = new PsConnection({ addr: s.addr, maxMessageBytes: 1 << 20, dataPlane: client });
        conns.push(c);
        expect([...f32FromBytes((await c.pull({ ...pullReq }, 5000)).values)]).to.deep.equal([0.25, 0.25, 0.25, 0.25]);
        expect((await c.push({ ...pullReq, grads: Buffer.from(new Float32Array(4).fill(0.5).buffer) }, 5000)).rowsApplied).to.equal(2);
        expect((await c.pushUnary({ ...pullReq, grads: Buffer.from(new Float32Array(4).fill(0.5).buffer) }, 5000)).rowsApplied).to.equal(2);
        expect([...f32FromBytes((await c.pullUnary({ ...pullReq }, 5000)).values)]).to.deep.equal([-0.75, -0.75, -0.75, -0.75]);
        expect(s.node.counters.pulls).to.equal(2);
      });
    }
  }

  it('ends a unary call whose request never completes DEADLINE_EXCEEDED at its grpc-timeout', async () => {
    const s = await ps('http2');
    session = http2.connect(`http://${s.addr}`);
    const req = session.request({ ':method': 'POST', ':path': '/tessera.v1.ParameterServer/Pull', 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '200m' });
    req.write(frameMessage(encodePullRequest({ ...pullReq })).subarray(0, 8)); // the header and 3 bytes, then nothing
    expect(await statusOf(req)).to.deep.equal({ status: '4', message: 'Deadline exceeded' });
    expect(s.node.counters.pulls).to.equal(0);
  });

  it('refuses a compressed message (none is offered) with UNIMPLEMENTED, as grpc-js does, and serves the next call', async () => {
    const s = await ps('http2');
    session = http2.connect(`http://${s.addr}`);
    const frame = frameMessage(encodePullRequest({ ...pullReq }));
    frame[0] = 1;
    const req = session.request({ ':method': 'POST', ':path': '/tessera.v1.ParameterServer/PullStream', 'content-type': 'application/grpc', te: 'trailers' });
    req.end(frame);
    const refused = await statusOf(req);
    expect(refused.status).to.equal('12');
    expect(refused.message).to.match(/compressed messages are not accepted/);
    const ok = session.request({ ':method': 'POST', ':path': '/tessera.v1.ParameterServer/Pull', 'content-type': 'application/grpc', te: 'trailers' });
    ok.end(frameMessage(encodePullRequest({ ...pullReq })));
    expect((await statusOf(ok)).status).to.equal('0');
  });

  it('reuses message buffers on both sides without mixing them up: 64 pulls and 32 pushes in flight get their own rows (issue 18 §1, ADR 0045)', async () => {
    const s = await ps('http2');
    s.node.createTable({ name: 'rows', kind: 'embedding', dim: 8, optimizer: { kind: 'sgd', lr: 1 }, seed: 11 });
    s.node.createTable({ name: 'pushed', kind: 'embedding', dim: 8, optimizer: { kind: 'sgd', lr: 1 }, initializer: { kind: 'constant', value: 0 } });
    const reference = new PsConnection({ addr: s.addr, maxMessageBytes: 1 << 20, dataPlane: 'grpc-js' });
    const c = new PsConnection({ addr: s.addr, maxMessageBytes: 1 << 20, dataPlane: 'http2' });
    conns.push(reference, c);
    // 8 batches of 2,000 distinct ids: each answer is 64 KiB, above the pools' smallest buffer.
    const batches = Array.from({ length: 8 }, (_, b) => Buffer.from(BigUint64Array.from({ length: 2000 }, (_, i) => BigInt(1 + b * 2000 + i)).buffer));
    const want: number[][] = [];
    for (const ids of batches) want.push([...f32FromBytes((await reference.pull({ ...pullReq, table: 'rows', ids }, 5000)).values)]);
    const pulls = Array.from({ length: 64 }, async (_, k) => {
      const res = await c.pull({ ...pullReq, table: 'rows', ids: batches[k % 8] }, 5000);
      const got = [...f32FromBytes(res.values)];
      res.release?.();
      return got;
    });
    const pushes = Array.from({ length: 32 }, (_, k) => c.push({ ...pullReq, table: 'pushed', ids: batches[k % 8], grads: Buffer.from(new Float32Array(2000 * 8).fill(k % 8 + 1).buffer) }, 5000));
    const got = await Promise.all(pulls);
    await Promise.all(pushes);
    got.forEach((rows, k) => expect(rows, `pull ${k}`).to.deep.equal(want[k % 8]));
    for (const [b, ids] of batches.entries()) {
      // Four pushes of gradient b + 1 each, at learning rate 1: every value of batch b is -4 (b + 1).
      const rows = f32FromBytes((await reference.pull({ ...pullReq, table: 'pushed', ids }, 5000)).values);
      expect(rows.every((v) => v === -4 * (b + 1)), `batch ${b}`).to.equal(true);
    }
  });

  it('reuses the data client\'s slice buffers only once a pull or push is done: 32 pulls and 16 pushes in flight over 2 PS get their own rows (issue 18 §1)', async () => {
    const both = [await ps('http2'), await ps('http2')];
    const map = planShardMap(both.map((s, id) => ({ id, addr: s.addr })));
    const client = new PsClient({ shardMap: map, logger: silentLogger(), maxInflightPushes: 16, dataPlane: 'http2' });
    try {
      await client.admin.installShardMap();
      await client.admin.createTable({ name: 'rows', kind: 'embedding', dim: 4, optimizer: { kind: 'sgd', lr: 1 }, seed: 5 });
      await client.admin.createTable({ name: 'pushed', kind: 'embedding', dim: 4, optimizer: { kind: 'sgd', lr: 1 }, initializer: { kind: 'constant', value: 0 } });
      // 4 batches of 6,000 distinct ids: each PS's slice (about 3,000 ids, 36 KB) is above the pools' smallest buffer.
      const batches = Array.from({ length: 4 }, (_, b) => idsFrom(Array.from({ length: 6000 }, (_, i) => BigInt(7 + b * 6000 + i))));
      const want: Float32Array[] = [];
      for (const ids of batches) want.push(await client.data.pull('rows', ids, 4));
      const pushes = Array.from({ length: 16 }, (_, k) => client.data.push('pushed', batches[k % 4], new Float32Array(6000 * 4).fill((k % 4) + 1)));
      const got = await Promise.all(Array.from({ length: 32 }, (_, k) => client.data.pull('rows', batches[k % 4], 4)));
      await Promise.all(pushes);
      await client.data.flush();
      got.forEach((rows, k) => expect(rows, `pull ${k}`).to.deep.equal(want[k % 4]));
      for (const [b, ids] of batches.entries()) {
        // Four pushes of gradient b + 1 each, at learning rate 1: every value of batch b is -4 (b + 1).
        const rows = await client.data.pull('pushed', ids, 4);
        expect(rows.every((v) => v === -4 * (b + 1)), `batch ${b}`).to.equal(true);
      }
    } finally {
      client.close();
    }
  });
});
