/**
 * Issue 14 merged with issue 23 (item 12): `tessera serve`'s REST and gRPC ports carry the same
 * connection limits as every PS and health server: connections beyond `maxConnections` are
 * closed on arrival, and one that sends nothing (no HTTP/2 handshake on gRPC, no request headers
 * on REST) is closed after `handshakeTimeoutMs`, while real clients are still answered.
 */
import type * as net from 'node:net';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { silentLogger } from '../../src/common/logger';
import { selectBackend } from '../../src/model/backend';
import { ModelServer } from '../../src/serve/model-server';
import { healthService } from '../../src/wire/services';
import { idleSockets } from '../helpers/idle-sockets';
import { curl, publishTestModel } from '../helpers/serve';

const CAP = 3;
const HANDSHAKE_MS = 300;

describe('tessera serve: connection cap and handshake timeout on its REST and gRPC ports (issues 14, 23)', function () {
  this.timeout(30_000);
  let root = '';
  let server: ModelServer | undefined;
  const sockets: net.Socket[] = [];

  before(async () => {
    await selectBackend(silentLogger());
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-serve-limits-'));
    await publishTestModel(root, { seed: 3 });
    server = await ModelServer.start({ root, host: '127.0.0.1', port: 0, pollMs: 0, connectionLimits: { maxConnections: CAP, handshakeTimeoutMs: HANDSHAKE_MS } },
      { logger: silentLogger(), registry: new Registry() });
    await server.registry.rescan();
  });

  after(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await server?.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('REST closes connections over the cap and those that send no request, then answers a client', async () => {
    // 2 × CAP idle connections: CAP are closed on arrival, the others when their headers time out.
    const idle = await idleSockets(`127.0.0.1:${server!.rest.port}`, 2 * CAP);
    sockets.push(...idle.sockets);
    await Promise.all(idle.closed);
    const ready = await curl('GET', `${server!.rest.url}/v2/health/ready`);
    expect(ready.status).to.equal(200);
  });

  it('gRPC closes connections over the cap and those without a handshake, then answers a client', async () => {
    const grpcServer = await server!.startGrpc('127.0.0.1', 0);
    const idle = await idleSockets(grpcServer.addr, 2 * CAP);
    sockets.push(...idle.sockets);
    await Promise.all(idle.closed);
    const client = new (healthService())(grpcServer.addr, grpc.credentials.createInsecure()) as unknown as grpc.Client & { Check: Function };
    const res = await new Promise<{ status: string }>((resolve, reject) => client.Check({ service: 'tessera.v1.Prediction' }, (e: Error | null, r: { status: string }) => (e ? reject(e) : resolve(r))));
    client.close();
    expect(res.status).to.equal('SERVING');
  });
});
