/**
 * `tessera ps`: one parameter server serving Pull/Push, admin and gRPC health on one port. On its
 * own it is addressed by host:port; with `--etcd URL --job NAME` it also registers under
 * members/ps/<id>, and fences itself (refuses pushes) while that lease is lost.
 */
import { helpText, intOption, OptionSpec, parseArgs } from '../runtime/args';
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { Logger } from '../common/logger';
import { loadPsConfig } from '../ps/config';
import { startPsServer } from '../ps/ps-server';
import { PsNode } from '../ps/ps-node';
import { LmdbRowTier } from '../ps/tier/lmdb-row-tier';
import { ClusterLink, startRuntime } from '../runtime/role-runtime';

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

/** `tessera ps --help`. */
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
  const etcdUrl = o.etcd ?? process.env.TESSERA_ETCD;
  const job = o.job ?? process.env.TESSERA_JOB;
  if (etcdUrl && !job) throw new TesseraError(ERROR_CODES.CONFIG, '--etcd needs --job NAME (the job this PS serves)');
  const rt = await startRuntime({
    role: 'ps', id: config.id, logLevel: config.logLevel, host: config.host, metricsPort: intOption(args, 'metrics-port', 0),
    cluster: etcdUrl && job ? { job, etcdUrl, leaseTtlS: intOption(args, 'lease-ttl', 1) } : undefined,
  });
  const { logger } = rt;
  // Opened lazily by the first table that spills, so a bad directory fails CreateTable, not the PS.
  const tier = config.tierDir ? new LmdbRowTier({ dir: config.tierDir }) : undefined;
  const node = new PsNode({ config: { maxRequestBytes: config.maxRequestBytes }, logger, tier });
  const server = await startPsServer({ host: config.host, port: config.port, maxRequestBytes: config.maxRequestBytes, logger, metrics: rt.metrics.registry, node })
    .catch(async (err: unknown) => { await rt.close(); throw err; });
  const stop = async () => {
    await rt.close();
    await server.stop();
    await tier?.close();
  };
  if (rt.cluster) {
    await register(rt.cluster, config.id, o.advertise ?? server.addr, node, logger).catch(async (err: unknown) => { await stop(); throw err; });
  }
  // One stdout line a parent process (tests, tessera local, the demo) can wait for.
  process.stdout.write(`ps listening ${server.addr}\n`);
  const signal = await rt.stopping;
  logger.info({ signal }, 'shutting down');
  await stop().catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'error while shutting down'));
  return 0;
}

/**
 * Registers members/ps/<id> at `addr` and wires the lease to fencing: while the lease is lost the
 * node refuses pushes, and a re-registration lifts that. The data plane only learns "fenced" or
 * "not fenced"; etcd stays here. Rejects on a duplicate id.
 */
async function register(cluster: ClusterLink, id: string, addr: string, node: PsNode, logger: Logger): Promise<void> {
  const reg = await cluster.membership.register('ps', id, addr);
  reg.on('lost', (ev) => node.setFenced(`etcd lease of incarnation ${ev.incarnation} lost: ${ev.error.message}`));
  reg.on('reregistered', () => node.setFenced(null));
  reg.on('failed', (err) => {
    logger.error({ err: err.message }, 'lost the ps id to another process; exiting');
    process.kill(process.pid, 'SIGTERM');
  });
  logger.info({ job: cluster.job, id, addr, incarnation: reg.incarnation }, 'registered in etcd');
}
