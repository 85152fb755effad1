/**
 * Puts a PsNode behind a gRPC server: data plane, admin, migration, replication and health on one port.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../common/logger';
import { PsMetrics } from './ps-metrics';
import type { Registry } from 'prom-client';
import { ConnectionLimits, DEFAULT_CONNECTION_LIMITS, GuardCounts, guardConnections, http2ServersOf } from '../wire/connection-guard';
import { DataPlane, serverOptions, transportReceiveLimit } from '../wire/grpc-options';
import { HealthRegistry } from '../wire/health-service';
import { authorizationInterceptor, authorize } from '../wire/authorization';
import { logRefusedHandshakes, TlsContext } from '../wire/tls';
import { addAdminService } from './admin-service';
import { CheckpointRoots } from './checkpoint/checkpoint-roots';
import { addDataService } from './data-service';
import { serveDataOnHttp2 } from './h2-data-service';
import { addMigrationService } from './migration/migration-service';
import { CutHold } from './cut-hold';
import { PsNode } from './ps-node';
import { addReplicationService } from './replication/replication-service';

export interface PsServerOptions {
  host?: string;
  /** 0 picks a free port. */
  port: number;
  maxRequestBytes: number;
  logger: Logger;
  node?: PsNode;
  /** Registers this PS's metrics (requests, latency, table sizes) here; none when absent. */
  metrics?: Registry;
  /** Directories Snapshot and Restore may use (and what is under them); none: both are refused. */
  checkpointRoots?: readonly string[];
  /** Connection cap and HTTP/2 handshake timeout (default DEFAULT_CONNECTION_LIMITS). */
  connectionLimits?: ConnectionLimits;
  /** Mutual TLS: client certificates required, every call authorized by role (src/wire/authorization.ts). Absent: plaintext. */
  tls?: TlsContext;
  /** What carries Pull/Push and their streams on the PS's port (default 'grpc-js'; ADR 0038). */
  dataPlane?: DataPlane;
}

/**
 * A running PS. `addr` is "host:port" with the bound port.
 *
 * ```ts
 * const ps = await startPsServer({ port: 0, maxRequestBytes: 64 << 20, logger });
 * console.log(ps.addr); // 127.0.0.1:41234
 * await ps.stop();
 * ```
 */
export interface PsServer {
  readonly node: PsNode;
  readonly addr: string;
  readonly port: number;
  readonly health: HealthRegistry;
  /** Connections closed by the connection limits so far. */
  readonly guard: GuardCounts;
  /** Graceful shutdown: stops accepting calls and waits for in-flight ones (bounded). */
  stop(): Promise<void>;
}

/** Grace period for in-flight calls at shutdown before connections are cut. */
const SHUTDOWN_GRACE_MS = 2_000;

/** HTTP/2 receive window the PS advertises: pushes of ~0.5 MiB arrive without WINDOW_UPDATE stalls. */
const SERVER_WINDOW_BYTES = 16 * 1024 * 1024;

/**
 * grpc-js has no server option for the HTTP/2 flow-control window (clients have
 * 'grpc-node.flow_control_window'), so a PS receiving large pushes would stall every 64 KiB.
 * This sets `initialWindowSize` in the settings grpc-js passes to http2.createServer. It relies
 * on a private field (checked here); if a grpc-js upgrade removes it, the PS still works at the
 * default window and says so in the log. See docs/adr/0002-data-plane-transport.md.
 */
function widenReceiveWindow(server: grpc.Server, logger: Logger): void {
  const opts = (server as unknown as { commonServerOptions?: { settings?: Record<string, number> } }).commonServerOptions;
  if (!opts) {
    logger.warn('grpc-js internals changed: PS keeps the default 64 KiB HTTP/2 receive window');
    return;
  }
  opts.settings = { ...opts.settings, initialWindowSize: SERVER_WINDOW_BYTES };
}

/** Same reason, for the connection-level window, which HTTP/2 settings do not cover. */
function widenConnectionWindow(server: grpc.Server): void {
  for (const h2 of http2ServersOf(server) ?? []) {
    h2.on('session', (session: import('http2').ServerHttp2Session) => session.setLocalWindowSize(SERVER_WINDOW_BYTES));
  }
}

export async function startPsServer(opts: PsServerOptions): Promise<PsServer> {
  const node = opts.node ?? new PsNode({ config: { maxRequestBytes: opts.maxRequestBytes }, logger: opts.logger });
  const server = new grpc.Server({
    ...serverOptions(opts.maxRequestBytes),
    ...(opts.tls ? { interceptors: [authorizationInterceptor(opts.tls.config.identity.job)] } : {}),
  });
  widenReceiveWindow(server, opts.logger);
  const health = new HealthRegistry({ '': 'SERVING', 'tessera.v1.ParameterServer': 'SERVING' });
  const metrics = opts.metrics ? new PsMetrics(opts.metrics, node) : undefined;
  // Tagged pushes wait here while a cut at per-worker steps is prepared (ADR 0040).
  const hold = new CutHold({ logger: opts.logger.child({ component: 'cut-hold' }) });
  addDataService(server, node, metrics, hold);
  addAdminService(server, node, opts.logger, new CheckpointRoots(opts.checkpointRoots ?? []), hold);
  addMigrationService(server, node, opts.logger, opts.tls?.channelCredentials());
  const replication = addReplicationService(server, node, opts.logger, { credentials: opts.tls?.channelCredentials(), metrics: opts.metrics });
  health.addTo(server);
  const host = opts.host ?? '127.0.0.1';
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${opts.port}`, opts.tls?.serverCredentials() ?? grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  widenConnectionWindow(server);
  if (opts.dataPlane === 'http2') {
    const job = opts.tls?.config.identity.job;
    serveDataOnHttp2(server, node, {
      receiveLimit: transportReceiveLimit(opts.maxRequestBytes), metrics, hold,
      authorize: job === undefined ? undefined : (path, cert) => authorize(job, path, cert),
    });
  }
  if (opts.tls) logRefusedHandshakes(server, opts.logger);
  const guard = guardConnections(server, opts.connectionLimits ?? DEFAULT_CONNECTION_LIMITS);
  const addr = `${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  opts.logger.info({ addr, dataPlane: opts.dataPlane ?? 'grpc-js', tls: opts.tls ? opts.tls.config.identity : false, maxRequestBytes: opts.maxRequestBytes, checkpointRoots: opts.checkpointRoots ?? [], ...(opts.connectionLimits ?? DEFAULT_CONNECTION_LIMITS) }, 'ps listening');
  return {
    node, addr, port, health, guard,
    stop: () => new Promise<void>((resolve) => {
      replication.stop();
      health.set('', 'NOT_SERVING');
      health.close();
      const timer = setTimeout(() => server.forceShutdown(), SHUTDOWN_GRACE_MS);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    }),
  };
}
