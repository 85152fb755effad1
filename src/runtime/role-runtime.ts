/**
 * What every cluster role process (chief, worker) sets up around its work: the etcd client, a
 * JSON logger, a gRPC health server (Kubernetes probes), Prometheus /metrics, and a promise that
 * resolves on SIGINT/SIGTERM. Closing it stops all of them; close the role's registrations first.
 */
import { createEtcdClient } from './etcd-client';
import { hostname } from 'node:os';
import type { Etcd3 } from 'etcd3';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { createLogger, Logger } from '../common/logger';
import { validateJobName, validateMemberId } from '../membership/keys';
import { serveMetrics } from '../metrics/http';
import { createMetrics, Metrics, MetricsRole } from '../metrics/registry';
import { startHealthServer, HealthServer } from './health-server';
import type { OptionSpec, ParsedArgs } from './args';
import { intOption } from './args';

/** Options every role command takes. */
export const ROLE_OPTIONS: Record<string, OptionSpec> = {
  etcd: { type: 'string', describe: 'etcd endpoints, comma-separated http://host:port [TESSERA_ETCD]' },
  job: { type: 'string', describe: 'job name in etcd [TESSERA_JOB]' },
  host: { type: 'string', describe: 'address the health and metrics servers bind', default: '127.0.0.1' },
  port: { type: 'string', describe: 'gRPC health port; 0 picks a free one', default: '0' },
  'metrics-port': { type: 'string', describe: 'Prometheus GET /metrics port (logged as metricsUrl); 0 picks a free one', default: '0' },
  'lease-ttl': { type: 'string', describe: 'etcd lease TTL in seconds', default: '5' },
  'log-level': { type: 'string', describe: 'pino log level [TESSERA_LOG_LEVEL]' },
  advertise: { type: 'string', describe: 'host:port registered in etcd (default: the bound address; with --host 0.0.0.0, $POD_IP or the hostname)' },
};

export interface RoleRuntime {
  readonly job: string;
  readonly id: string;
  readonly etcd: Etcd3;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly health: HealthServer;
  /** The address registered in etcd for this process (its health port). */
  readonly advertise: string;
  readonly leaseTtlS: number;
  /** Resolves with the signal name on SIGINT or SIGTERM. */
  readonly stopping: Promise<string>;
  close(): Promise<void>;
}

export async function startRoleRuntime(role: MetricsRole, args: ParsedArgs, defaultId: string | undefined): Promise<RoleRuntime> {
  const o = args.options as Record<string, string | undefined>;
  const etcdUrl = o.etcd ?? process.env.TESSERA_ETCD;
  const job = o.job ?? process.env.TESSERA_JOB;
  if (!etcdUrl || !job) throw new TesseraError(ERROR_CODES.CONFIG, `tessera ${role} needs --etcd URL and --job NAME (or TESSERA_ETCD and TESSERA_JOB)`);
  validateJobName(job);
  const id = validateMemberId(o.id ?? defaultId ?? `${role}-${hostname()}-${process.pid}`, 'id');
  const leaseTtlS = intOption(args, 'lease-ttl', 1);
  const logger = createLogger({ level: o['log-level'] ?? process.env.TESSERA_LOG_LEVEL ?? 'info', base: { role, nodeId: id, job } });
  const metrics = createMetrics({ job, role, id }, { processMetrics: true });
  const health = await startHealthServer({ host: o.host, port: intOption(args, 'port', 0) });
  const metricsHttp = await serveMetrics(metrics.registry, { host: o.host, port: intOption(args, 'metrics-port', 0) })
    .catch(async (err: unknown) => { await health.stop(); throw err; });
  logger.info({ metricsUrl: metricsHttp.url, healthAddr: health.addr }, 'metrics and health listening');
  const etcd = createEtcdClient(etcdUrl);
  const port = health.addr.slice(health.addr.lastIndexOf(':') + 1);
  const advertise = o.advertise ?? (o.host === '0.0.0.0' ? `${process.env.POD_IP ?? hostname()}:${port}` : health.addr);
  const stopping = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  return {
    job, id, etcd, logger, metrics, health, advertise, leaseTtlS, stopping,
    close: async () => {
      await Promise.allSettled([metricsHttp.close(), health.stop()]);
      etcd.close();
    },
  };
}
