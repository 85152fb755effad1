/**
 * What every role process (ps, chief, worker) sets up around its work, the same way for each:
 * the JSON logger, a Prometheus registry served at /metrics, a promise that resolves on SIGINT or
 * SIGTERM, and, once the process joins a job, the etcd client and its membership (leases). Roles
 * that serve no gRPC of their own (chief, worker) also get a gRPC health server for Kubernetes
 * probes; the PS answers health checks on its own port. Closing the runtime revokes the
 * membership leases first, then stops the servers and closes the etcd client.
 *
 * ```ts
 * const rt = await startRuntime({ role: 'ps', id: 'ps-0', logLevel: 'info', host: '0.0.0.0', metricsPort: 0,
 *   cluster: { job: 'ctr', etcdUrl: 'http://127.0.0.1:2379', leaseTtlS: 5 } });
 * const reg = await rt.cluster?.membership.register('ps', rt.id, addr);
 * await rt.stopping;
 * await rt.close();
 * ```
 */
import { hostname } from 'node:os';
import type { Etcd3 } from 'etcd3';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { createLogger, Logger } from '../common/logger';
import type { ProcessRole, Role } from '../common/roles';
import { EtcdMembership } from '../membership/etcd-membership';
import { validateJobName, validateMemberId } from '../membership/keys';
import { BuildInfo } from '../metrics/build-info';
import { serveMetrics, MetricsServer } from '../metrics/http';
import { createMetrics, Metrics } from '../metrics/registry';
import type { OptionSpec, ParsedArgs } from './args';
import { intOption } from './args';
import { createEtcdClient } from './etcd-client';
import { startHealthServer, HealthServer } from './health-server';
import { ConnectionLimits, DEFAULT_CONNECTION_LIMITS, loadConnectionLimits } from '../wire/connection-guard';
import { openTls, TlsContext } from '../wire/tls';
import { loadSecurity, Security, SECURITY_OPTIONS } from './security-options';

/** Options the chief and worker commands take (the PS has its own, in cli/ps.ts). */
export const ROLE_OPTIONS: Record<string, OptionSpec> = {
  etcd: { type: 'string', describe: 'etcd endpoints, comma-separated http://host:port [TESSERA_ETCD]' },
  job: { type: 'string', describe: 'job name in etcd [TESSERA_JOB]' },
  host: { type: 'string', describe: 'address the health and metrics servers bind', default: '127.0.0.1' },
  port: { type: 'string', describe: 'gRPC health port; 0 picks a free one', default: '0' },
  'metrics-port': { type: 'string', describe: 'Prometheus GET /metrics port (logged as metricsUrl); 0 picks a free one', default: '0' },
  'lease-ttl': { type: 'string', describe: 'etcd lease TTL in seconds', default: '5' },
  'log-level': { type: 'string', describe: 'pino log level [TESSERA_LOG_LEVEL]' },
  'max-connections': { type: 'string', describe: 'most TCP connections open at once on the health and metrics ports (default 1024) [TESSERA_MAX_CONNECTIONS]' },
  'handshake-timeout-ms': { type: 'string', describe: 'a connection that has not sent its HTTP/2 handshake or request headers by then is closed (default 10000) [TESSERA_HANDSHAKE_TIMEOUT_MS]' },
  advertise: { type: 'string', describe: 'host:port registered in etcd (default: the bound address; with --host 0.0.0.0, $POD_IP or the hostname)' },
  ...SECURITY_OPTIONS,
};

/** How to start a role process's runtime. */
export interface RuntimeOptions {
  role: ProcessRole;
  id: string;
  logLevel: string;
  /** address the metrics (and health) servers bind */
  host: string;
  /** /metrics port; 0 picks a free one */
  metricsPort: number;
  /** the job to join in etcd; absent: a process on its own (a PS addressed by host:port) */
  cluster?: { job: string; etcdUrl: string; leaseTtlS: number };
  /** start a gRPC health server on this port (roles with no gRPC server of their own) */
  healthPort?: number;
  /**
   * Bound on the graceful stop after SIGINT/SIGTERM: past it, or at a second signal, the process
   * exits at once (code 1, logged). Absent: no bound.
   */
  shutdownTimeoutMs?: number;
  /** Connection cap and HTTP/2 handshake timeout of the health and metrics servers (default DEFAULT_CONNECTION_LIMITS). */
  connectionLimits?: ConnectionLimits;
  /** TLS, etcd credentials and the metrics address (src/runtime/security-options.ts); absent: plaintext, /metrics on 127.0.0.1. */
  security?: Security;
}

/** A process's link to its job in etcd. */
export interface ClusterLink {
  readonly job: string;
  readonly etcd: Etcd3;
  /** Registrations made here are revoked by the runtime's close(). */
  readonly membership: EtcdMembership;
  readonly leaseTtlS: number;
}

/** The process-level services of one role process. */
export interface Runtime {
  readonly role: ProcessRole;
  readonly id: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** `tessera_build_info`; a worker, chief or `tessera serve` names its tfjs backend there once chosen. */
  readonly buildInfo: BuildInfo;
  /** The /metrics HTTP server (the chief adds its status page and `/api/status` to it). */
  readonly http: MetricsServer;
  /** The standalone health server, when `healthPort` was given. */
  readonly health: HealthServer | null;
  /** The job in etcd, when `cluster` was given. */
  readonly cluster: ClusterLink | null;
  /** This process's mutual-TLS identity (servers and clients adopt it with one call), or null: plaintext. */
  readonly tls: TlsContext | null;
  /** Resolves with the signal name on SIGINT or SIGTERM. */
  readonly stopping: Promise<string>;
  /**
   * Ends the process with `code` once the current turn of the event loop is over: for a role
   * whose graceful stop is done, so that nothing left running in the background (a snapshot
   * write, a client that never reads) keeps it alive. Returns `code`.
   */
  exitSoon(code: number): number;
  /** Revokes the membership's leases, stops the metrics and health servers, closes etcd. */
  close(): Promise<void>;
}

/** Starts a role process's logger, metrics, health server and etcd membership. */
export async function startRuntime(opts: RuntimeOptions): Promise<Runtime> {
  const { role, id, cluster } = opts;
  const identity = opts.security?.tls?.identity;
  if (identity && cluster && identity.job !== cluster.job) {
    throw new TesseraError(ERROR_CODES.CONFIG, `--tls-cert names job "${identity.job}" (${identity.role}/${identity.id}), but --job is "${cluster.job}"`);
  }
  const logger = createLogger({ level: opts.logLevel, base: { role, nodeId: id, ...(cluster ? { job: cluster.job } : {}) } });
  const metrics = createMetrics({ job: cluster?.job ?? 'standalone', role, id }, { processMetrics: true });
  const buildInfo = new BuildInfo(metrics.registry);
  const limits = opts.connectionLimits ?? DEFAULT_CONNECTION_LIMITS;
  const tls = opts.security?.tls ? openTls(opts.security.tls) : null;
  // /metrics follows --host (loopback by default) unless --metrics-host says otherwise.
  const metricsHost = opts.security?.metricsHost ?? opts.host;
  const health = opts.healthPort === undefined ? null : await startHealthServer({ host: opts.host, port: opts.healthPort, limits, tls: tls ?? undefined });
  const metricsHttp = await serveMetrics(metrics.registry, {
    host: metricsHost, port: opts.metricsPort, maxConnections: limits.maxConnections, headersTimeoutMs: limits.handshakeTimeoutMs,
    tls: tls && opts.security?.metricsTls ? tls : undefined,
  })
    .catch(async (err: unknown) => { await health?.stop(); throw err; });
  // Logged, not printed: a role's stdout carries only the lines its parent process waits for.
  logger.info({ metricsUrl: metricsHttp.url, ...(health ? { healthAddr: health.addr } : {}), tls: tls ? tls.config.identity : false }, 'metrics and health listening');
  const link = cluster ? joinCluster(cluster, logger, reachableAddr(metricsHost, metricsHttp.port), opts.security?.etcd) : null;
  const stopping = stopSignal(logger, opts.shutdownTimeoutMs);
  return {
    role, id, logger, metrics, buildInfo, http: metricsHttp, health, cluster: link, stopping, tls,
    exitSoon: (code: number) => {
      setImmediate(() => process.exit(code)).unref();
      return code;
    },
    close: async () => {
      // Leases first: etcd3's close() alone would leave their keepalives running.
      await link?.membership.close().catch(() => undefined);
      await Promise.allSettled([metricsHttp.close(), health?.stop()]);
      link?.etcd.close();
      tls?.close();
    },
  };
}

/** "host:port" peers reach a server bound to `host` at: a wildcard bind is reached at $POD_IP or the hostname. */
function reachableAddr(host: string, port: number): string {
  const shown = host === '0.0.0.0' || host === '::' ? process.env.POD_IP ?? hostname() : host;
  return `${shown.includes(':') ? `[${shown}]` : shown}:${port}`;
}

/**
 * Resolves with the first SIGINT or SIGTERM. With `boundMs`, the graceful stop that follows is
 * bounded: past `boundMs`, or at a second signal, the process exits at once with code 1.
 */
function stopSignal(logger: Logger, boundMs: number | undefined): Promise<string> {
  return new Promise<string>((resolve) => {
    let first: string | null = null;
    const onSignal = (signal: string) => {
      if (first !== null) {
        logger.warn({ signal, first }, 'second signal during shutdown: exiting now');
        process.exit(1);
      }
      first = signal;
      if (boundMs === undefined) process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      else {
        setTimeout(() => {
          logger.error({ signal, boundMs }, 'graceful shutdown did not finish in time: exiting now');
          process.exit(1);
        }, boundMs).unref();
      }
      resolve(signal);
    };
    process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  });
}

function joinCluster(c: { job: string; etcdUrl: string; leaseTtlS: number }, logger: Logger, metricsAddr: string, credentials: Security['etcd']): ClusterLink {
  const etcd = createEtcdClient(c.etcdUrl, { credentials });
  try {
    const membership = new EtcdMembership({ client: etcd, job: c.job, logger, leaseTtlS: c.leaseTtlS, metricsAddr });
    return { job: c.job, etcd, leaseTtlS: c.leaseTtlS, membership };
  } catch (err) {
    etcd.close();
    throw err;
  }
}

/** The runtime of a chief or worker: always in a job, with a health server and an advertised address. */
export interface RoleRuntime extends Runtime {
  readonly job: string;
  readonly etcd: Etcd3;
  readonly membership: EtcdMembership;
  readonly health: HealthServer;
  /** The address registered in etcd for this process (its health port). */
  readonly advertise: string;
  readonly leaseTtlS: number;
}

/** Starts a chief's or worker's runtime from ROLE_OPTIONS (flags, then TESSERA_* variables). */
export async function startRoleRuntime(role: Role, args: ParsedArgs, defaultId: string | undefined): Promise<RoleRuntime> {
  const o = args.options as Record<string, string | undefined>;
  const etcdUrl = o.etcd ?? process.env.TESSERA_ETCD;
  const job = o.job ?? process.env.TESSERA_JOB;
  if (!etcdUrl || !job) throw new TesseraError(ERROR_CODES.CONFIG, `tessera ${role} needs --etcd URL and --job NAME (or TESSERA_ETCD and TESSERA_JOB)`);
  validateJobName(job);
  const id = validateMemberId(o.id ?? defaultId ?? `${role}-${hostname()}-${process.pid}`, 'id');
  const leaseTtlS = intOption(args, 'lease-ttl', 1);
  const rt = await startRuntime({
    role, id, logLevel: o['log-level'] ?? process.env.TESSERA_LOG_LEVEL ?? 'info', host: o.host ?? '127.0.0.1',
    metricsPort: intOption(args, 'metrics-port', 0), healthPort: intOption(args, 'port', 0), cluster: { job, etcdUrl, leaseTtlS },
    connectionLimits: loadConnectionLimits(process.env, { maxConnections: o['max-connections'], handshakeTimeoutMs: o['handshake-timeout-ms'] }),
    security: loadSecurity(process.env, o, etcdUrl),
  });
  const health = rt.health!;
  const link = rt.cluster!;
  const port = health.addr.slice(health.addr.lastIndexOf(':') + 1);
  const advertise = o.advertise ?? (o.host === '0.0.0.0' ? `${process.env.POD_IP ?? hostname()}:${port}` : health.addr);
  return { ...rt, health, job, etcd: link.etcd, membership: link.membership, leaseTtlS, advertise };
}
