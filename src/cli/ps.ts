/**
 * `tessera ps`: a standalone parameter server. Membership through etcd arrives with the
 * control-plane work; until then a PS is addressed directly by host:port.
 */
import { helpText, intOption, OptionSpec, parseArgs } from '../runtime/args';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { registerPs, PsRegistration } from '../ps/ps-registration';
import { createLogger } from '../common/logger';
import { loadPsConfig } from '../ps/config';
import { startPsServer } from '../ps/ps-server';
import { PsNode } from '../ps/ps-node';
import { LmdbRowTier } from '../ps/tier/lmdb-row-tier';
import { createMetrics } from '../metrics/registry';
import { serveMetrics } from '../metrics/http';

/** Options of `tessera ps`; exported so deploy checks parse manifest args with the real parser. */
export const PS_OPTIONS: Record<string, OptionSpec> = {
  port: { type: 'string', describe: 'port to listen on; 0 picks a free one [TESSERA_PS_PORT]' },
  host: { type: 'string', describe: 'address to bind [TESSERA_PS_HOST]' },
  id: { type: 'string', describe: 'this PS\'s id; {ordinal} is replaced by the ordinal of the pod named in TESSERA_POD_NAME (ps-{ordinal} in tessera-ps-3 → ps-3) [TESSERA_PS_ID]' },
  'max-request-bytes': { type: 'string', describe: 'largest data-plane request accepted [TESSERA_MAX_REQUEST_BYTES]' },
  'log-level': { type: 'string', describe: 'pino log level [TESSERA_LOG_LEVEL]' },
  etcd: { type: 'string', describe: 'etcd endpoints (http://host:port[,...]); registers members/ps/<id> under --job [TESSERA_ETCD]' },
  job: { type: 'string', describe: 'job name in etcd (with --etcd) [TESSERA_JOB]' },
  'lease-ttl': { type: 'string', describe: 'etcd lease TTL in seconds', default: '5' },
  'metrics-port': { type: 'string', describe: 'port for Prometheus GET /metrics (logged as metricsUrl); 0 picks a free one', default: '0' },
  'tier-dir': { type: 'string', describe: 'directory of the disk tier for tables with eviction.spill; emptied per table at creation [TESSERA_TIER_DIR]' },
  'advertise': { type: 'string', describe: 'host:port peers should dial (default: the bound address)' },
};

export const PS_HELP = helpText('tessera ps [--port P] [--host H] [--id ID] [--etcd URL --job NAME]',
  'Starts one parameter server serving Pull/Push, admin and gRPC health on one port.\n'
  + 'It prints "ps listening <addr>" on stdout once ready; logs (JSON) go to stderr.', PS_OPTIONS);

/** Runs a PS until SIGINT/SIGTERM; resolves with the exit code. */
export async function runPs(argv: string[]): Promise<number> {
  const args = parseArgs(argv, PS_OPTIONS);
  const o = args.options as Record<string, string | undefined>;
  const config = loadPsConfig(process.env, {
    port: o.port, host: o.host, id: o.id, maxRequestBytes: o['max-request-bytes'], logLevel: o['log-level'], tierDir: o['tier-dir'],
  });
  const logger = createLogger({ level: config.logLevel, base: { role: 'ps', nodeId: config.id } });
  const etcd = o.etcd ?? process.env.TESSERA_ETCD;
  const job = o.job ?? process.env.TESSERA_JOB;
  if (etcd && !job) throw new TesseraError(ERROR_CODES.CONFIG, '--etcd needs --job NAME (the job this PS serves)');
  const metricsPort = intOption(args, 'metrics-port', 0);
  const metrics = createMetrics({ job: job ?? 'standalone', role: 'ps', id: config.id }, { processMetrics: true });
  // Opened lazily by the first table that spills, so a bad directory fails CreateTable, not the PS.
  const tier = config.tierDir ? new LmdbRowTier({ dir: config.tierDir }) : undefined;
  const node = new PsNode({ config: { maxRequestBytes: config.maxRequestBytes }, logger, tier });
  const server = await startPsServer({ host: config.host, port: config.port, maxRequestBytes: config.maxRequestBytes, logger, metrics: metrics.registry, node });
  const metricsHttp = await serveMetrics(metrics.registry, { host: config.host, port: metricsPort })
    .catch(async (err: unknown) => { await server.stop(); throw err; });
  // Logged, not printed: stdout carries only the "ps listening" line parents wait for.
  logger.info({ metricsUrl: metricsHttp.url }, 'metrics listening');
  let registration: PsRegistration | null = null;
  if (etcd && job) {
    try {
      registration = await registerPs({
        etcd, job, id: config.id, addr: o.advertise ?? server.addr, leaseTtlS: intOption(args, 'lease-ttl', 1), node: server.node, logger,
        onFailed: (err) => { logger.error({ err: err.message }, 'lost the ps id to another process; exiting'); process.kill(process.pid, 'SIGTERM'); },
      });
    } catch (err) {
      await metricsHttp.close();
      await server.stop();
      throw err;
    }
  }
  // One stdout line a parent process (tests, tessera local, the demo) can wait for.
  process.stdout.write(`ps listening ${server.addr}\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      const reg = registration ?? { close: async () => undefined };
      reg.close().catch(() => undefined).then(() => metricsHttp.close()).then(() => server.stop()).then(() => tier?.close()).then(resolve, resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
}
