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
