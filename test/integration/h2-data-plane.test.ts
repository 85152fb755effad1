/**
 * Issue 18: what the node:http2 data plane (ADR 0038) does beyond the cases every data-plane test
 * runs on both planes: clients of either plane talk to a PS of either plane (the wire is the same
 * gRPC), a unary call whose body never completes ends DEADLINE_EXCEEDED at the caller's
 * grpc-timeout, and a compressed message is refused while the PS serves on.
 */
import * as http2 from 'node:http2';
import { expect } from 'chai';
import { silentLogger } from '../../src/common/logger';
import { startPsServer, PsServer } from '../../src/ps/ps-server';
import { encodePullRequest, Encoding } from '../../src/wire/data-plane-codec';
import { DATA_PLANES } from '../../src/wire/grpc-options';
import { frameMessage } from '../../src/wire/grpc-frames';
import { f32FromBytes } from '../../src/wire/key-block';
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
});
