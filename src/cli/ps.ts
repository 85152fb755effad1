/**
 * `tessera ps`: a PS process running `--shards K` shard servers (default: its cores), each
 * serving Pull/Push, admin and gRPC health on its own port. With one shard it runs in the main
 * thread; with several, each runs on its own worker thread with its own tables (no locks), and
 * is a PS of its own in the shard map (ids and ports: src/ps/shard-layout.ts). On its own a
 * shard is addressed by host:port; with `--etcd URL --job NAME` each shard also registers under
 * members/ps/<id>, and fences itself (refuses pushes) while that lease is lost. `tessera ps drain
 * ID` (ps-drain.ts) asks the chief to move a PS's buckets away; a process exits 0 once every one
 * of its shards is drained.
 */
import { helpText, intOption, OptionSpec, noPositional, parseArgs } from '../runtime/args';
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { Logger } from '../common/logger';
import { loadPsConfig } from '../ps/config';
import { loadConnectionLimits } from '../wire/connection-guard';
import { tuneHeapGrowth } from '../common/heap-growth';
import { loadDataPlane } from '../wire/grpc-options';
import { ShardHandle, ShardSpec, startShard } from '../ps/ps-shard';
import { shardAdvertise, shardMemberIds, shardPort, shardTierDir } from '../ps/shard-layout';
import { startShardThreads } from '../ps/shard-threads';
import { ClusterLink, Runtime, startRuntime } from '../runtime/role-runtime';
import { loadSecurity, SECURITY_OPTIONS } from '../runtime/security-options';
import type { TlsConfig } from '../wire/tls';
import { exitWhenDrained, PS_DRAIN_HELP, runPsDrain } from './ps-drain';

/** Options of `tessera ps`; exported so deploy checks parse manifest args with the real parser. */
export const PS_OPTIONS: Record<string, OptionSpec> = {
  port: { type: 'string', describe: 'port to listen on (shard k: port+k); 0 picks a free one per shard [TESSERA_PS_PORT]' },
  shards: { type: 'string', describe: 'shard servers in this process, one per worker thread, each its own PS (ps-N runs ps-N·K … ps-N·K+K-1); default: the cores Node may use (Kubernetes: the pod\'s CPU limit) [TESSERA_PS_SHARDS]' },
  host: { type: 'string', describe: 'address the gRPC and metrics ports bind (default 127.0.0.1); 0.0.0.0 or the pod IP to serve other hosts, as in Kubernetes [TESSERA_PS_HOST]' },
  id: { type: 'string', describe: 'this PS\'s id; {ordinal} is replaced by the ordinal of the pod named in TESSERA_POD_NAME (ps-{ordinal} in tessera-ps-3 → ps-3) [TESSERA_PS_ID]' },
  'max-request-bytes': { type: 'string', describe: 'largest data-plane request accepted [TESSERA_MAX_REQUEST_BYTES]' },
  'log-level': { type: 'string', describe: 'pino log level [TESSERA_LOG_LEVEL]' },
  etcd: { type: 'string', describe: 'etcd endpoints (http://host:port[,...]); registers members/ps/<id> under --job [TESSERA_ETCD]' },
  job: { type: 'string', describe: 'job name in etcd (with --etcd) [TESSERA_JOB]' },
  'lease-ttl': { type: 'string', describe: 'etcd lease TTL in seconds', default: '5' },
  'metrics-port': { type: 'string', describe: 'port for Prometheus GET /metrics (logged as metricsUrl); 0 picks a free one', default: '0' },
  'tier-dir': { type: 'string', describe: 'directory of the disk tier for tables with eviction.spill; emptied per table at creation [TESSERA_TIER_DIR]' },
  'advertise': { type: 'string', describe: 'host:port peers should dial (shard k: port+k; default: the bound address)' },
  'checkpoint-root': { type: 'string', describe: 'directory (or DIR,DIR...) under which Snapshot writes and Restore reads; the chief\'s --checkpoint-dir. Without one both are refused [TESSERA_CHECKPOINT_ROOT]' },
  'max-connections': { type: 'string', describe: 'most TCP connections open at once, more are closed on arrival (default 1024) [TESSERA_MAX_CONNECTIONS]' },
  'handshake-timeout-ms': { type: 'string', describe: 'a connection that has not completed the HTTP/2 handshake by then is closed (default 10000) [TESSERA_HANDSHAKE_TIMEOUT_MS]' },
  'data-plane': { type: 'string', describe: 'what serves Pull/Push on each shard\'s port: grpc-js, or gRPC framing directly on node:http2 (same protocol, less CPU per row; ADR 0038) (default http2) [TESSERA_DATA_PLANE]' },
  'shutdown-timeout-ms': { type: 'string', describe: 'bound on the graceful stop after SIGTERM; then, or at a second signal, the process exits at once (default 10000) [TESSERA_SHUTDOWN_TIMEOUT_MS]' },
  ...SECURITY_OPTIONS,
};

/** `tessera ps --help`. */
export const PS_HELP = `${helpText('tessera ps [--port P] [--shards K] [--host H] [--id ID] [--etcd URL --job NAME]',
  'Starts a parameter server process of --shards K shard servers, each serving Pull/Push, admin and gRPC health on its own port.\n'
  + 'It prints "ps listening <addr>[,<addr>...]" (shard 0 first) on stdout once ready; logs (JSON) go to stderr.\n'
  + 'With --etcd it exits 0 once the chief has drained all its shards (tessera ps drain ID).', PS_OPTIONS)}\n\n${PS_DRAIN_HELP}`;

/** Runs a PS process until SIGINT/SIGTERM; resolves with the exit code. */
export async function runPs(argv: string[]): Promise<number> {
  if (argv[0] === 'drain') return runPsDrain(argv.slice(1));
  const args = parseArgs(argv, PS_OPTIONS);
  noPositional(args);
  const o = args.options as Record<string, string | undefined>;
  const config = loadPsConfig(process.env, {
    port: o.port, host: o.host, id: o.id, maxRequestBytes: o['max-request-bytes'], logLevel: o['log-level'], tierDir: o['tier-dir'],
    checkpointRoot: o['checkpoint-root'], shutdownTimeoutMs: o['shutdown-timeout-ms'], shards: o.shards,
  });
  const connectionLimits = loadConnectionLimits(process.env, { maxConnections: o['max-connections'], handshakeTimeoutMs: o['handshake-timeout-ms'] });
  const dataPlane = loadDataPlane(process.env, o['data-plane']);
  tuneHeapGrowth(process.env);
  const etcdUrl = o.etcd ?? process.env.TESSERA_ETCD;
  const job = o.job ?? process.env.TESSERA_JOB;
  if (etcdUrl && !job) throw new TesseraError(ERROR_CODES.CONFIG, '--etcd needs --job NAME (the job this PS serves)');
  const specs: ShardSpec[] = shardMemberIds(config.id, config.shards).map((id, k) => ({
    shard: k, id, host: config.host, port: shardPort(config.port, k), maxRequestBytes: config.maxRequestBytes,
    checkpointRoots: config.checkpointRoots, tierDir: shardTierDir(config.tierDir, k, config.shards), connectionLimits,
    dataPlane,
  }));
  const advertise = o.advertise === undefined ? undefined : specs.map((s) => shardAdvertise(o.advertise!, s.shard));
  const security = loadSecurity(process.env, o, etcdUrl);
  const rt = await startRuntime({
    role: 'ps', id: config.id, logLevel: config.logLevel, host: config.host, metricsPort: intOption(args, 'metrics-port', 0),
    cluster: etcdUrl && job ? { job, etcdUrl, leaseTtlS: intOption(args, 'lease-ttl', 1) } : undefined,
    shutdownTimeoutMs: config.shutdownTimeoutMs, connectionLimits, security,
  });
  const { logger } = rt;
  const shards = await startShards(specs, rt, { logLevel: config.logLevel, job: job ?? 'standalone', tls: security.tls ?? null })
    .catch(async (err: unknown) => { await rt.close(); throw err; });
  let drainWatch: { stop(): Promise<void> } | undefined;
  const stop = async () => {
    await drainWatch?.stop();
    await rt.close();
    await shards.stop();
  };
  if (rt.cluster) {
    const link = rt.cluster;
    await Promise.all(shards.list.map((s, k) => register(link, s, advertise?.[k] ?? s.addr, logger)))
      .catch(async (err: unknown) => { await stop(); throw err; });
    drainWatch = await exitWhenDrained(link, shards.list.map((s) => s.id), logger).catch(async (err: unknown) => { await stop(); throw err; });
  }
  // One stdout line a parent process (tests, tessera local, the demo) can wait for.
  process.stdout.write(`ps listening ${shards.list.map((s) => s.addr).join(',')}\n`);
  const signal = await rt.stopping;
  logger.info({ signal }, 'shutting down');
  await stop().catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'error while shutting down'));
  logger.info('stopped');
  return rt.exitSoon(0);
}

/**
 * Starts the shards: one in this thread, or one per worker thread with the process's /metrics
 * serving every shard's series (labelled `shard`) beside the process's own.
 */
async function startShards(specs: ShardSpec[], rt: Runtime, opts: { logLevel: string; job: string; tls: TlsConfig | null }): Promise<{ list: readonly ShardHandle[]; stop(): Promise<void> }> {
  if (specs.length === 1) {
    const one = await startShard(specs[0], { logger: rt.logger, registry: rt.metrics.registry, tls: rt.tls ?? undefined });
    return { list: [one], stop: () => one.stop() };
  }
  const threads = await startShardThreads(specs, {
    ...opts, logger: rt.logger,
    onCrash: (shard, err) => {
      // Its rows are gone, as in a crashed PS: leave etcd at once and let the supervisor restart the process.
      rt.logger.error({ shard, err: err.message }, 'a shard thread died; exiting');
      void rt.close().finally(() => process.exit(1));
    },
  });
  rt.http.route('/metrics', (_req, res) => {
    threads.metricsText(rt.metrics.registry).then(
      (body) => res.writeHead(200, { 'content-type': rt.metrics.registry.contentType }).end(body),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
    );
  });
  rt.logger.info({ shards: threads.shards.map((s) => ({ id: s.id, addr: s.addr })) }, 'shards listening');
  return { list: threads.shards, stop: () => threads.stop() };
}

/**
 * Registers shard `shard.id` under members/ps/ at `addr` and wires the lease to fencing: while the lease is lost the
 * shard refuses pushes, and a re-registration lifts that. The data plane only learns "fenced" or
 * "not fenced"; etcd stays here. Rejects on a duplicate id.
 */
async function register(cluster: ClusterLink, shard: ShardHandle, addr: string, logger: Logger): Promise<void> {
  const { id } = shard;
  const reg = await cluster.membership.register('ps', id, addr);
  reg.on('lost', (ev) => shard.setFenced(`etcd lease of incarnation ${ev.incarnation} lost: ${ev.error.message}`));
  reg.on('reregistered', () => shard.setFenced(null));
  reg.on('failed', (err) => {
    logger.error({ err: err.message }, 'lost the ps id to another process; exiting');
    process.kill(process.pid, 'SIGTERM');
  });
  logger.info({ id, addr, incarnation: reg.incarnation }, 'registered in etcd'); // the logger names the job
}
