/**
 * A real TCP proxy on 127.0.0.1:0 in front of a server, for fault tests: it forwards bytes both
 * ways and can hold back everything the server sends (the answers) until released, so a test
 * can make an answer come late without touching the server or the client. It counts the bytes
 * each way, so a test can see what went over the wire. Closed in afterEach.
 */
import * as net from 'node:net';

/** A proxy to one target; `addr` is what the client dials instead of the target. */
export class TcpProxy {
  private holding = false;
  private readonly held: { socket: net.Socket; chunk: Buffer }[] = [];
  private readonly sockets = new Set<net.Socket>();
  /** Bytes the clients sent through the proxy (requests), all connections. */
  bytesFromClients = 0;
  /** Bytes the server sent back through the proxy (answers), all connections, held ones included. */
  bytesFromServer = 0;

  private constructor(private readonly server: net.Server, readonly addr: string) {}

  /** Starts a proxy to `target` ("host:port"). */
  static async start(target: string): Promise<TcpProxy> {
    const [host, port] = splitAddr(target);
    let proxy: TcpProxy | null = null;
    const server = net.createServer((client) => proxy!.pair(client, net.connect(port, host)));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    proxy = new TcpProxy(server, `127.0.0.1:${(server.address() as net.AddressInfo).port}`);
    return proxy;
  }

  /** From now on, keeps what the server sends instead of passing it to the client. */
  holdAnswers(): void {
    this.holding = true;
  }

  /** Passes on everything held, in order, and stops holding. */
  releaseAnswers(): void {
    this.holding = false;
    for (const { socket, chunk } of this.held.splice(0)) if (!socket.destroyed) socket.write(chunk);
  }

  /** Bytes held back right now. */
  get heldBytes(): number {
    return this.held.reduce((n, h) => n + h.chunk.length, 0);
  }

  /** Stops listening and drops every connection. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private pair(client: net.Socket, upstream: net.Socket): void {
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('error', () => undefined); // the other side's close ends the pair below
      s.on('close', () => { this.sockets.delete(s); client.destroy(); upstream.destroy(); });
    }
    client.on('data', (chunk: Buffer) => {
      this.bytesFromClients += chunk.length;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      this.bytesFromServer += chunk.length;
      if (this.holding) this.held.push({ socket: client, chunk });
      else client.write(chunk);
    });
  }
}

function splitAddr(addr: string): [string, number] {
  const i = addr.lastIndexOf(':');
  return [addr.slice(0, i), Number(addr.slice(i + 1))];
}
