/**
 * Issue 23, item 12: before the fix a PS held every raw TCP connection it was given (3,000 idle
 * ones in a test), with no cap and no HTTP/2 handshake timeout. Now the gRPC servers (the PS's,
 * and the health server of chiefs and workers) close connections beyond `maxConnections` on
 * arrival and connections that never complete the handshake after `handshakeTimeoutMs`, while a
 * real client keeps its connection and is served.
 */
import type * as net from 'node:net';
import { expect } from 'chai';
import { silentLogger } from '../../src/common/logger';
import { startPsServer, PsServer } from '../../src/ps/ps-server';
import { startHealthServer, HealthServer } from '../../src/runtime/health-server';
import { loadConnectionLimits, DEFAULT_CONNECTION_LIMITS } from '../../src/wire/connection-guard';
import { PsConnection } from '../../src/wire/ps-connection';
import { healthService } from '../../src/wire/services';
import * as grpc from '@grpc/grpc-js';
import { idleSockets } from '../helpers/idle-sockets';

const CAP = 5;
const HANDSHAKE_MS = 300;

describe('connection cap and HTTP/2 handshake timeout (issue 23)', function () {
  this.timeout(20_000);
  let ps: PsServer | undefined;
  let health: HealthServer | undefined;
  let conn: PsConnection | undefined;
  const sockets: net.Socket[] = [];

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    conn?.close();
    await ps?.stop();
    await health?.stop();
  });

  it('a PS closes connections over the cap at once and idle ones at the handshake timeout, and serves its client throughout', async () => {
    ps = await startPsServer({ port: 0, maxRequestBytes: 1 << 20, logger: silentLogger(), connectionLimits: { maxConnections: CAP, handshakeTimeoutMs: HANDSHAKE_MS } });
    conn = new PsConnection({ addr: ps.addr, maxMessageBytes: 1 << 20 });
    await conn.adminCall('Stats', {}, 5000); // one real connection, handshake done

    const idle = await idleSockets(ps.addr, 2 * CAP);
    sockets.push(...idle.sockets);
    // CAP - 1 fit beside the client's connection; the rest are closed on arrival, the others at the timeout.
    await Promise.all(idle.closed);
    expect(ps.guard).to.deep.equal({ refused: CAP + 1, handshakeTimeouts: CAP - 1 });

    const stats = await conn.adminCall<{ shardMapVersion: number }>('Stats', {}, 5000);
    expect(stats.shardMapVersion).to.equal(0);
    expect(ps.guard.handshakeTimeouts, 'the client\'s own connection was never timed out').to.equal(CAP - 1);
  });

  it('the health server of chiefs and workers has the same guard', async () => {
    health = await startHealthServer({ port: 0, limits: { maxConnections: 2, handshakeTimeoutMs: HANDSHAKE_MS } });
    const idle = await idleSockets(health.addr, 4);
    sockets.push(...idle.sockets);
    await Promise.all(idle.closed);
    const client = new (healthService())(health.addr, grpc.credentials.createInsecure()) as unknown as grpc.Client & { Check: Function };
    const res = await new Promise<{ status: string }>((resolve, reject) => client.Check({ service: '' }, (e: Error | null, r: { status: string }) => (e ? reject(e) : resolve(r))));
    client.close();
    expect(res.status).to.equal('SERVING');
  });

  it('limits come from flags over TESSERA_* over the defaults; bad values name the flag or variable', () => {
    expect(loadConnectionLimits({}, {})).to.deep.equal(DEFAULT_CONNECTION_LIMITS);
    expect(loadConnectionLimits({ TESSERA_MAX_CONNECTIONS: '64', TESSERA_HANDSHAKE_TIMEOUT_MS: '500' }, { maxConnections: '8' }))
      .to.deep.equal({ maxConnections: 8, handshakeTimeoutMs: 500 });
    expect(() => loadConnectionLimits({ TESSERA_MAX_CONNECTIONS: '0' }, {})).to.throw('TESSERA_MAX_CONNECTIONS must be an integer in [1, 1048576], got "0"');
    expect(() => loadConnectionLimits({}, { handshakeTimeoutMs: 'soon' })).to.throw('--handshake-timeout-ms must be an integer');
  });
});
