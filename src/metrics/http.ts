/**
 * Serves a registry over plain HTTP: `GET /metrics` in the Prometheus text format, plus any GET
 * routes a role adds (the chief's status page), 404 for anything else. Separate from the gRPC
 * port so a scraper never competes with the data plane.
 */
import * as http from 'http';
import type { AddressInfo } from 'net';
import type { Registry } from 'prom-client';
import { createWebServer, WebServer, WebTls, webScheme } from './web-server';

/** Where to listen. */
export interface MetricsHttpOptions {
  /** Defaults to 127.0.0.1. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** most connections open at once; more are closed on arrival (default: no cap) */
  maxConnections?: number;
  /** a connection that has not sent a request's headers by then is closed (default: Node's 60 s) */
  headersTimeoutMs?: number;
  /** HTTPS with client certificates of the job (`--metrics-tls`); absent: plain HTTP */
  tls?: WebTls;
}

/** Answers one GET request of an added route. */
export type RouteHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** A running /metrics endpoint. */
export interface MetricsServer {
  /** The bound port. */
  readonly port: number;
  /** e.g. http://127.0.0.1:9464/metrics (0.0.0.0 is shown as 127.0.0.1). */
  readonly url: string;
  /** Serves GET `path` (exact match, query ignored) with `handler`. */
  route(path: string, handler: RouteHandler): void;
  close(): Promise<void>;
}

/**
 * Caps a node:http server's open connections at `maxConnections` (more are closed on arrival)
 * and closes a connection that has not sent a request's headers within `headersTimeoutMs`; an
 * absent limit leaves Node's default.
 */
export function limitHttpConnections(server: WebServer, limits: { maxConnections?: number; headersTimeoutMs?: number }): void {
  if (limits.maxConnections !== undefined) server.maxConnections = limits.maxConnections;
  if (limits.headersTimeoutMs !== undefined) {
    server.headersTimeout = limits.headersTimeoutMs;
    server.requestTimeout = Math.max(server.requestTimeout, limits.headersTimeoutMs);
  }
}

/**
 * Starts serving `registry`.
 *
 * ```ts
 * const m = await serveMetrics(metrics.registry, { host: '0.0.0.0', port: 0 });
 * logger.info({ metricsUrl: m.url }, 'metrics listening');
 * await m.close();
 * ```
 */
export async function serveMetrics(registry: Registry, opts: MetricsHttpOptions): Promise<MetricsServer> {
  const routes = new Map<string, RouteHandler>();
  const server = createWebServer(opts.tls, {}, (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const route = req.method === 'GET' ? routes.get(path) : undefined;
    if (route) {
      route(req, res);
      return;
    }
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found; try GET ${['/metrics', ...routes.keys()].join(', ')}\n`);
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
    );
  });
  limitHttpConnections(server, opts);
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return {
    port,
    url: `${webScheme(opts.tls)}://${shown.includes(':') ? `[${shown}]` : shown}:${port}/metrics`,
    route: (path, handler) => { routes.set(path, handler); },
    close: () => new Promise<void>((resolve) => {
      // A scraper keeps its connection alive between scrapes; cut it so close() does not wait for it.
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
