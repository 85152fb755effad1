/**
 * Raw TCP connections that never speak, for tests of a server's connection cap and handshake
 * (or request-headers) timeout.
 */
import * as net from 'node:net';

/** Opens `n` raw TCP connections that send nothing; each entry resolves when the server closes it. */
export async function idleSockets(addr: string, n: number): Promise<{ sockets: net.Socket[]; closed: Promise<void>[] }> {
  const [host, port] = [addr.slice(0, addr.lastIndexOf(':')), Number(addr.slice(addr.lastIndexOf(':') + 1))];
  const sockets: net.Socket[] = [];
  const closed: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const s = net.connect({ host, port });
    s.on('error', () => undefined); // a reset from the server is what we expect
    s.resume(); // read (and drop) what the server sends, or its close would go unseen
    closed.push(new Promise((resolve) => s.once('close', () => resolve())));
    await new Promise<void>((resolve) => s.once('connect', () => resolve()));
    sockets.push(s);
  }
  return { sockets, closed };
}
