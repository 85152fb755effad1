/** Free-port helper for tests that start real servers or child processes. */
import * as net from 'node:net';

/**
 * A TCP port that was free on 127.0.0.1 a moment ago: listen on port 0, read the port, close.
 * Another process may take it before the caller binds; prefer binding port 0 directly where the
 * server under test supports it, and use this only for children that need a port up front.
 *
 * ```ts
 * const port = await freePort();
 * spawnNode('bin/tessera.js', ['ps', '--port', String(port)]);
 * ```
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

function listenOn(port: number): Promise<net.Server | null> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(null));
    srv.listen(port, '127.0.0.1', () => resolve(srv));
  });
}

/**
 * The first of `count` consecutive TCP ports that were all free on 127.0.0.1 a moment ago, for a
 * child that binds a block (a `tessera ps --shards K` process binds --port, --port+1, …). Same
 * caveat as {@link freePort}: another process may take one before the child binds.
 */
export async function freePortBlock(count: number): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const first = await listenOn(0);
    if (!first) continue;
    const base = (first.address() as net.AddressInfo).port;
    const held = [first];
    for (let k = 1; k < count; k++) {
      const s = await listenOn(base + k);
      if (!s) break;
      held.push(s);
    }
    await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
    if (held.length === count) return base;
  }
  throw new Error(`no ${count} consecutive free ports on 127.0.0.1 in 100 tries`);
}
