/**
 * The HTTP side of `tessera serve` on node:http: body limits, JSON in and out, one JSON error
 * line per failure, and the request metrics. What each path does is in rest-routes.ts; this file
 * knows no model. node:http rather than a framework: the route table is a dozen regular
 * expressions, and the bench (bench/serve-bench.ts) measured the HTTP layer at a small share of a
 * DeepFM request (docs/adr/0022-serving.md).
 *
 * Errors are `{"error": "…"}` with the status of the error's code (`httpStatusOf`): 400 bad
 * input (naming the field), 404 unknown model, version, label or path, 405 wrong method, 413 body
 * over the limit, 503 not ready, 500 anything unexpected (logged). A failed request never affects
 * the next one.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ERROR_CODES, ErrorCode, TesseraError } from '../common/errors';
import type { Logger } from '../common/logger';
import { limitHttpConnections } from '../metrics/http';
import { createWebServer, webScheme } from '../metrics/web-server';
import type { TlsContext } from '../wire/tls';
import type { ConnectionLimits } from '../wire/connection-guard';
import { parseBody } from './lenient-json';
import type { RouteGroup } from './prediction-service';
import type { ServeMetrics } from './serve-metrics';

/** Default limit of a request body (`--max-body-bytes`). */
export const DEFAULT_MAX_BODY_BYTES = 8 << 20;

/** A request as a route handler sees it. */
export interface RestRequest {
  method: string;
  path: string;
  /** the path's named parts (`name`, `version`, `label`) */
  params: Readonly<Record<string, string>>;
  /** the parsed JSON body (POST), else undefined */
  body: unknown;
}

/** A handler's answer; `model` and `groups` feed the request metrics. */
export interface RestAnswer {
  status: number;
  body: unknown;
  model?: string;
  groups?: readonly RouteGroup[];
}

/** One route: method, a path pattern with named groups, and whether it counts as a prediction request. */
export interface RestRoute {
  method: 'GET' | 'POST';
  pattern: RegExp;
  metered?: boolean;
  handle(req: RestRequest): Promise<RestAnswer> | RestAnswer;
}

/** The HTTP status of an error code. */
export function httpStatusOf(code: ErrorCode): number {
  switch (code) {
    case ERROR_CODES.INVALID_ARGUMENT: case ERROR_CODES.CONFIG: case ERROR_CODES.NON_FINITE: case ERROR_CODES.BAD_IDS: return 400;
    case ERROR_CODES.UNKNOWN_MODEL: case ERROR_CODES.UNKNOWN_TABLE: return 404;
    case ERROR_CODES.TOO_LARGE: return 413;
    case ERROR_CODES.UNAVAILABLE: case ERROR_CODES.RESOURCE_EXHAUSTED: return 503;
    default: return 500;
  }
}

/** A running REST server. */
export interface RestServer {
  readonly port: number;
  /** http://host:port */
  readonly url: string;
  close(): Promise<void>;
}

/** What the server needs. */
export interface RestServerDeps {
  routes: readonly RestRoute[];
  logger: Logger;
  metrics?: ServeMetrics;
  /** whether a model name is served here (the model label of a failed request's metrics) */
  knownModel?: (name: string) => boolean;
  maxBodyBytes?: number;
}

function readBody(req: http.IncomingMessage, limit: number): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.reject(tooLarge(declared, limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        reject(tooLarge(size, limit));
        return;
      }
      chunks.push(c);
    });
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}

function tooLarge(size: number, limit: number): TesseraError {
  return new TesseraError(ERROR_CODES.TOO_LARGE, `request body of ${size}${size > limit ? '+' : ''} bytes is over the server's limit of ${limit} bytes (--max-body-bytes); split the request`);
}

function send(res: http.ServerResponse, status: number, body: unknown, close = false): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...(close ? { connection: 'close' } : {}) });
  res.end(text);
}

/** Finds the route of a request: the handler and its params, or the error status (404, 405). */
function match(routes: readonly RestRoute[], method: string, path: string): { route: RestRoute; params: Record<string, string> } | TesseraError {
  let pathKnown = false;
  for (const route of routes) {
    const m = route.pattern.exec(path);
    if (!m) continue;
    pathKnown = true;
    if (route.method === method) return { route, params: Object.fromEntries(Object.entries(m.groups ?? {}).filter(([, v]) => v !== undefined).map(([k, v]) => [k, decodeURIComponent(v)])) };
  }
  return new TesseraError(ERROR_CODES.UNKNOWN_MODEL, pathKnown ? `method ${method} is not allowed on ${path}` : `no such path: ${method} ${path}`);
}

/**
 * Starts serving `routes` on host:port (0 picks a free port); `limits` cap its open connections
 * and close one that sends no request headers in time (default: Node's own limits).
 *
 * ```ts
 * const rest = await startRestServer({ routes: restRoutes(ctx), logger }, { host: '0.0.0.0', port: 8500 });
 * ```
 */
export async function startRestServer(deps: RestServerDeps, at: { host: string; port: number; limits?: ConnectionLimits; tls?: TlsContext }): Promise<RestServer> {
  const limit = deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const log = deps.logger.child({ component: 'rest' });
  // Node checks header timeouts on this period (default 30 s): a quarter of the timeout keeps a
  // connection that sends nothing from outliving it by much.
  const checkMs = at.limits ? Math.max(50, Math.min(30_000, Math.floor(at.limits.handshakeTimeoutMs / 4))) : undefined;
  const server = createWebServer(at.tls, { ...(checkMs !== undefined ? { connectionsCheckingInterval: checkMs } : {}) }, (req, res) => {
    const started = performance.now();
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0];
    const found = match(deps.routes, method, path);
    const metered = !(found instanceof TesseraError) && found.route.metered === true;
    const finish = (status: number, body: unknown, a?: RestAnswer, close = false): void => {
      send(res, status, body, close);
      if (!metered) return;
      const named = (found as { params: Record<string, string> }).params.name;
      const model = a?.model ?? (named !== undefined && deps.knownModel?.(named) ? named : '');
      deps.metrics?.request({ protocol: 'rest', code: String(status), seconds: (performance.now() - started) / 1000, model, groups: a?.groups ?? [] });
    };
    const fail = (err: unknown): void => {
      const e = err instanceof TesseraError ? err : new TesseraError(ERROR_CODES.INTERNAL, (err as Error)?.message ?? String(err));
      const status = found instanceof TesseraError ? (/not allowed/.test(found.message) ? 405 : 404) : httpStatusOf(e.code);
      if (status >= 500 && status !== 503) log.error({ err: e.message, path }, 'request failed');
      finish(status, { error: e.message }, undefined, status === 413);
    };
    if (found instanceof TesseraError) {
      req.resume();
      fail(found);
      return;
    }
    const body = method === 'POST' ? readBody(req, limit).then((text) => (text.trim() === '' ? undefined : parseBody(text))) : Promise.resolve(undefined);
    body.then((parsed) => found.route.handle({ method, path, params: found.params, body: parsed }))
      .then((a) => finish(a.status, a.body, a), fail);
  });
  // Keep-alive connections outlive a client's burst; a bench or a load balancer reuses them.
  server.keepAliveTimeout = 65_000;
  if (at.limits) limitHttpConnections(server, { maxConnections: at.limits.maxConnections, headersTimeoutMs: at.limits.handshakeTimeoutMs });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shown = at.host === '0.0.0.0' || at.host === '::' ? '127.0.0.1' : at.host;
  return {
    port,
    url: `${webScheme(at.tls)}://${shown}:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
