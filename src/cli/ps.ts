/**
 * `tessera ps`: one parameter server serving Pull/Push, admin and gRPC health on one port. On its
 * own it is addressed by host:port; with `--etcd URL --job NAME` it also registers under
 * members/ps/<id>, and fences itself (refuses pushes) while that lease is lost. `tessera ps drain
 * ID` (ps-drain.ts) asks the chief to move its buckets away; the PS then exits 0.
 */
import { helpText, intOption, OptionSpec, noPositional, parseArgs } from '../runtime/args';
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { Logger } from '../common/logger';
import { loadPsConfig } from '../ps/config';
import { loadConnectionLimits } from '../wire/connection-guard';
import { startPsServer } from '../ps/ps-server';
import { PsNode } from '../ps/ps-node';
import { LmdbRowTier } from '../ps/tier/lmdb-row-tier';
import { ClusterLink, startRuntime } from '../runtime/role-runtime';
import { loadSecurity, SECURITY_OPTIONS } from '../runtime/security-options';
import { exitWhenDrained, PS_DRAIN_HELP, runPsDrain } from './ps-drain';

/** Options of `tessera ps`; exported so deploy checks parse manifest args with the real parser. */
export const PS_OPTIONS: Record<string, OptionSpec> = {
  port: { type: 'string', describe: 'port to listen on; 0 picks a free one [TESSERA_PS_PORT]' },
  host: { type: 'string', describe: 'address the gRPC and metrics ports bind (default 127.0.0.1); 0.0.0.0 or the pod IP to serve other hosts, as in Kubernetes [TESSERA_PS_HOST]' },
  id: { type: 'string', describe: 'this PS\'s id; {ordinal} is replaced by the ordinal of the pod named in TESSERA_POD_NAME (ps-{ordinal} in tessera-ps-3 → ps-3) [TESSERA_PS_ID]' },
  'max-request-bytes': { type: 'string', describe: 'largest data-plane request accepted [TESSERA_MAX_REQUEST_BYTES]' },
  'log-level': { type: 'string', describe: 'pino log level [TESSERA_LOG_LEVEL]' },
  etcd: { type: 'string', describe: 'etcd endpoints (http://host:port[,...]); registers members/ps/<id> under --job [TESSERA_ETCD]' },
  job: { type: 'string', describe: 'job name in etcd (with --etcd) [TESSERA_JOB]' },
  'lease-ttl': { type: 'string', describe: 'etcd lease TTL in seconds', default: '5' },
  'metrics-port': { type: 'string', describe: 'port for Prometheus GET /metrics (logged as metricsUrl); 0 picks a free one', default: '0' },
  'tier-dir': { type: 'string', describe: 'directory of the disk tier for tables with eviction.spill; emptied per table at creation [TESSERA_TIER_DIR]' },
  'advertise': { type: 'string', describe: 'host:port peers should dial (default: the bound address)' },
  'checkpoint-root': { type: 'string', describe: 'directory (or DIR,DIR...) under which Snapshot writes and Restore reads; the chief\'s --checkpoint-dir. Without one both are refused [TESSERA_CHECKPOINT_ROOT]' },
  'max-connections': { type: 'string', describe: 'most TCP connections open at once, more are closed on arrival (default 1024) [TESSERA_MAX_CONNECTIONS]' },
  'handshake-timeout-ms': { type: 'string', describe: 'a connection that has not completed the HTTP/2 handshake by then is closed (default 10000) [TESSERA_HANDSHAKE_TIMEOUT_MS]' },
  'shutdown-timeout-ms': { type: 'string', describe: 'bound on the graceful stop after SIGTERM; then, or at a second signal, the process exits at once (default 10000) [TESSERA_SHUTDOWN_TIMEOUT_MS]' },
  ...SECURITY_OPTIONS,
};

/** `tessera ps --help`. */
export const PS_HELP = `${helpText('tessera ps [--port P] [--host H] [--id ID] [--etcd URL --job NAME]',
  'Starts one parameter server serving Pull/Push, admin and gRPC health on one port.\n'
  + 'It prints "ps listening <addr>" on stdout once ready; logs (JSON) go to stderr.\n'
  + 'With --etcd it exits 0 once the chief has drained it (tessera ps drain ID).', PS_OPTIONS)}\n\n${PS_DRAIN_HELP}`;

/** Runs a PS until SIGINT/SIGTERM; resolves with the exit code. */
export async function runPs(argv: string[]): Promise<number> {
  if (argv[0] === 'drain') return runPsDrain(argv.slice(1));
  const args = parseArgs(argv, PS_OPTIONS);
  noPositional(args);
  const o = args.options as Record<string, string | undefined>;
  const config = loadPsConfig(process.env, {
    port: o.port, host: o.host, id: o.id, maxRequestBytes: o['max-request-bytes'], logLevel: o['log-level'], tierDir: o['tier-dir'],
    checkpointRoot: o['checkpoint-root'], shutdownTimeoutMs: o['shutdown-timeout-ms'],
  });
  const connectionLimits = loadConnectionLimits(process.env, { maxConnections: o['max-connections'], handshakeTimeoutMs: o['handshake-timeout-ms'] });
  const etcdUrl = o.etcd ?? process.env.TESSERA_ETCD;
  const job = o.job ?? process.env.TESSERA_JOB;
  if (etcdUrl && !job) throw new TesseraError(ERROR_CODES.CONFIG, '--etcd needs --job NAME (the job this PS serves)');
  const rt = await startRuntime({
    role: 'ps', id: config.id, logLevel: config.logLevel, host: config.host, metricsPort: intOption(args, 'metrics-port', 0),
    cluster: etcdUrl && job ? { job, etcdUrl, leaseTtlS: intOption(args, 'lease-ttl', 1) } : undefined,
    shutdownTimeoutMs: config.shutdownTimeoutMs, connectionLimits, security: loadSecurity(process.env, o, etcdUrl),
  });
  const { logger } = rt;
  // Opened lazily by the first table that spills, so a bad directory fails CreateTable, not the PS.
  const tier = config.tierDir ? new LmdbRowTier({ dir: config.tierDir }) : undefined;
  const node = new PsNode({ config: { maxRequestBytes: config.maxRequestBytes }, logger, tier });
  const server = await startPsServer({
    host: config.host, port: config.port, maxRequestBytes: config.maxRequestBytes, logger, metrics: rt.metrics.registry, node,
    checkpointRoots: config.checkpointRoots, connectionLimits, tls: rt.tls ?? undefined,
  })
    .catch(async (err: unknown) => { await rt.close(); throw err; });
  let drainWatch: { stop(): Promise<void> } | undefined;
  const stop = async () => {
    await drainWatch?.stop();
    await rt.close();
    await server.stop();
    await tier?.close();
  };
  if (rt.cluster) {
    await register(rt.cluster, config.id, o.advertise ?? server.addr, node, logger).catch(async (err: unknown) => { await stop(); throw err; });
    drainWatch = await exitWhenDrained(rt.cluster, [config.id], logger).catch(async (err: unknown) => { await stop(); throw err; });
  }
  // One stdout line a parent process (tests, tessera local, the demo) can wait for.
  process.stdout.write(`ps listening ${server.addr}\n`);
  const signal = await rt.stopping;
  logger.info({ signal }, 'shutting down');
  await stop().catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'error while shutting down'));
  logger.info('stopped');
  return rt.exitSoon(0);
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
  logger.info({ id, addr, incarnation: reg.incarnation }, 'registered in etcd'); // the logger names the job
}
