/**
 * Issue 23, item 13: `tessera local` started each PS (as `tessera ps --port 0 ...`, no host)
 * with its gRPC port and its metrics port on 0.0.0.0, while etcd, the chief and the workers used
 * 127.0.0.1. A PS now binds 127.0.0.1 unless `--host` says otherwise (Kubernetes passes 0.0.0.0).
 *
 * 127.0.0.2 is loopback too, but reaches only a listener bound to 0.0.0.0 (or to itself), so
 * connecting there tells the two bindings apart without any outside network.
 */
import * as net from 'node:net';
import { expect } from 'chai';
import { TESSERA_BIN } from '../../src/local/ps-process';
import { spawnNode, Spawned } from '../helpers/spawn';

/** Resolves true when a TCP connection to host:port is accepted, false when it is refused. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/** Starts `tessera ps` with `args`; resolves with its gRPC and metrics ports. */
async function start(args: string[]): Promise<{ ps: Spawned; grpc: number; metrics: number }> {
  const ps = spawnNode(TESSERA_BIN, ['ps', '--port', '0', ...args]);
  const listening = await ps.waitForLine(/^ps listening /, 20_000);
  const metricsLine = await ps.waitForLine(/"metricsUrl"/, 20_000);
  const grpc = Number(listening.slice(listening.lastIndexOf(':') + 1));
  const metrics = Number(new URL(JSON.parse(metricsLine).metricsUrl).port);
  return { ps, grpc, metrics };
}

describe('a PS binds 127.0.0.1 unless told otherwise (issue 23)', function () {
  this.timeout(60_000);
  let ps: Spawned | undefined;
  afterEach(async () => {
    await ps?.kill('SIGKILL');
  });

  it('as tessera local starts it (no --host): gRPC and metrics answer on 127.0.0.1 only', async () => {
    const s = await start(['--id', 'ps-0']);
    ps = s.ps;
    for (const port of [s.grpc, s.metrics]) {
      expect(await accepts('127.0.0.1', port), `127.0.0.1:${port}`).to.equal(true);
      expect(await accepts('127.0.0.2', port), `127.0.0.2:${port}`).to.equal(false);
    }
  });

  it('with --host 0.0.0.0 (as in Kubernetes) both answer beyond 127.0.0.1', async () => {
    const s = await start(['--host', '0.0.0.0']);
    ps = s.ps;
    for (const port of [s.grpc, s.metrics]) expect(await accepts('127.0.0.2', port), `127.0.0.2:${port}`).to.equal(true);
  });
});
