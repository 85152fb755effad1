/**
 * Limits on the TCP connections of a gRPC server: at most `maxConnections` open at once (more
 * are closed as they arrive), and a connection whose client has not completed the HTTP/2
 * handshake (connection preface and SETTINGS) within `handshakeTimeoutMs` is closed. Without
 * them a PS held every idle raw TCP connection it was given (3,000 in a test), each with its
 * socket and HTTP/2 session.
 *
 * grpc-js has options for idle and aged connections (`grpc.max_connection_idle_ms`,
 * `grpc.max_connection_age_ms`, counted from the session, not the handshake) and for memory per
 * session (`grpc-node.max_session_memory`), but no connection cap and no handshake timeout. Both
 * are set here on the `http2.Http2Server` that grpc-js listens with: `maxConnections` is
 * net.Server's own cap, and the handshake timer runs per 'session' (one per connection, made on
 * arrival) until the peer's first SETTINGS frame ('remoteSettings'). grpc-js keeps those servers in a private field; `guardConnections` fails
 * loudly if a grpc-js upgrade removes it, rather than serve unguarded.
 */
import type * as http2 from 'node:http2';
import type * as grpc from '@grpc/grpc-js';
import { ERROR_CODES, TesseraError } from '../common/errors';

/** Connection limits of one server. */
export interface ConnectionLimits {
  /** most TCP connections open at once; connections beyond it are closed on arrival */
  readonly maxConnections: number;
  /** milliseconds a client has to complete the HTTP/2 handshake before its connection is closed */
  readonly handshakeTimeoutMs: number;
}

/** Defaults: far above a cluster's needs (one connection per client per PS), far below a flood. */
export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = Object.freeze({ maxConnections: 1024, handshakeTimeoutMs: 10_000 });

/** Environment variables of the limits (flags `--max-connections`, `--handshake-timeout-ms`). */
export const CONNECTION_LIMIT_ENV = Object.freeze({ maxConnections: 'TESSERA_MAX_CONNECTIONS', handshakeTimeoutMs: 'TESSERA_HANDSHAKE_TIMEOUT_MS' });

function intIn(name: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new TesseraError(ERROR_CODES.CONFIG, `${name} must be an integer in [${min}, ${max}], got "${raw}"`);
  }
  return n;
}

/**
 * The limits from flags (as strings, undefined when absent) over the environment over the
 * defaults; a bad value is a CONFIG error naming the flag or variable.
 */
export function loadConnectionLimits(env: NodeJS.ProcessEnv, flags: { maxConnections?: string; handshakeTimeoutMs?: string }): ConnectionLimits {
  const pick = (k: keyof ConnectionLimits, flag: string, min: number, max: number): number => {
    const raw = flags[k] ?? env[CONNECTION_LIMIT_ENV[k]];
    return raw === undefined ? DEFAULT_CONNECTION_LIMITS[k] : intIn(flags[k] !== undefined ? flag : CONNECTION_LIMIT_ENV[k], raw, min, max);
  };
  return Object.freeze({
    maxConnections: pick('maxConnections', '--max-connections', 1, 1 << 20),
    handshakeTimeoutMs: pick('handshakeTimeoutMs', '--handshake-timeout-ms', 1, 3_600_000),
  });
}

/**
 * The `http2.Http2Server`s a bound grpc.Server listens with (grpc-js private state); null when
 * grpc-js no longer has the field.
 */
export function http2ServersOf(server: grpc.Server): http2.Http2Server[] | null {
  const servers = (server as unknown as { http2Servers?: Map<http2.Http2Server, unknown> }).http2Servers;
  return servers instanceof Map ? [...servers.keys()] : null;
}

/** What the guard has closed so far. */
export interface GuardCounts {
  /** connections closed on arrival because `maxConnections` were open */
  refused: number;
  /** connections closed because the client did not complete the handshake in time */
  handshakeTimeouts: number;
}

/**
 * Applies `limits` to every listener of the bound `server`; call it after `bindAsync`.
 *
 * ```ts
 * const counts = guardConnections(server, { maxConnections: 1024, handshakeTimeoutMs: 10_000 });
 * ```
 */
export function guardConnections(server: grpc.Server, limits: ConnectionLimits): GuardCounts {
  const listeners = http2ServersOf(server);
  if (!listeners) throw new TesseraError(ERROR_CODES.INTERNAL, 'grpc-js internals changed: cannot cap connections or time out handshakes');
  const counts: GuardCounts = { refused: 0, handshakeTimeouts: 0 };
  for (const h2 of listeners) {
    h2.maxConnections = limits.maxConnections;
    h2.on('drop', () => counts.refused++);
    h2.on('session', (session: http2.ServerHttp2Session) => {
      const timer = setTimeout(() => {
        counts.handshakeTimeouts++;
        session.destroy();
      }, limits.handshakeTimeoutMs);
      timer.unref();
      session.once('remoteSettings', () => clearTimeout(timer));
      session.once('close', () => clearTimeout(timer));
    });
  }
  return counts;
}
