/**
 * Shared fixtures of the etcd suites: a TCP proxy that lets a test make one etcd client "die",
 * and an event log to await events instead of sleeping. Candidates for test/helpers/
 * (tcp-proxy.ts) once that folder is open to this work.
 */
import * as net from 'node:net';
import { Etcd3 } from 'etcd3';

/**
 * A TCP proxy in front of etcd. A client dialled through `url` loses etcd for good on `cut()`:
 * every connection is destroyed and the listener closed, so keepalives stop exactly as if the
 * process had died (etcd3's `client.close()` cannot do that: it leaves keepalive streams running).
 */
export class TcpProxy {
  private constructor(private readonly server: net.Server, private readonly sockets: Set<net.Socket>, readonly url: string) {}

  /** Listens on a free 127.0.0.1 port and forwards to `targetUrl` (`http://host:port`). */
  static async start(targetUrl: string): Promise<TcpProxy> {
    const target = new URL(targetUrl);
    const sockets = new Set<net.Socket>();
    const server = net.createServer((inbound) => {
      const outbound = net.connect(Number(target.port), target.hostname);
      for (const s of [inbound, outbound]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => {
          inbound.destroy();
          outbound.destroy();
        });
      }
      inbound.pipe(outbound).pipe(inbound);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return new TcpProxy(server, sockets, `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`);
  }

  /** Severs every connection and stops listening. */
  async cut(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}

/** A client of `url` whose connection the test can cut. */
export async function createDoomedClient(url: string): Promise<{ client: Etcd3; proxy: TcpProxy }> {
  const proxy = await TcpProxy.start(url);
  return { client: new Etcd3({ hosts: proxy.url }), proxy };
}

/** Collects events; `waitFor` resolves on the first (past or future) event matching a predicate. */
export class EventLog<T> {
  readonly events: T[] = [];
  private waiters: { match: (ev: T) => boolean; resolve: (ev: T) => void }[] = [];

  /** The listener to hand to the code under test. */
  readonly push = (ev: T): void => {
    this.events.push(ev);
    for (const w of [...this.waiters]) {
      if (!w.match(ev)) continue;
      this.waiters = this.waiters.filter((x) => x !== w);
      w.resolve(ev);
    }
  };

  /**
   * Resolves with the first event matching `match`, rejects after `timeoutMs` listing what was
   * seen. The timeout only turns a hang into a readable failure; nothing waits on it otherwise.
   */
  waitFor(match: (ev: T) => boolean, timeoutMs: number, what = 'event'): Promise<T> {
    const seen = this.events.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x.resolve !== done);
        reject(new Error(`no ${what} within ${timeoutMs} ms; saw ${JSON.stringify(this.events)}`));
      }, timeoutMs);
      const done = (ev: T): void => {
        clearTimeout(timer);
        resolve(ev);
      };
      this.waiters.push({ match, resolve: done });
    });
  }
}

/** Resolves with the first argument of `register`'s first call, or rejects after `timeoutMs`. */
export function once<T>(register: (cb: (v: T) => void) => unknown, timeoutMs: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${what} within ${timeoutMs} ms`)), timeoutMs);
    register((v) => {
      clearTimeout(timer);
      resolve(v);
    });
  });
}
