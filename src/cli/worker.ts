/**
 * `tessera worker --etcd URL --job NAME --id ID`: one training worker. It registers under
 * members/worker/<id> (a second process with the same id is refused), reads the job spec and
 * shard map from etcd, and trains the data shards the chief assigns it until the job is done.
 */
import { RedisStreamLog } from '../stream/redis-stream-log';
import { parseStreamUrl } from '../stream/stream-url';
import { helpText, intOption, OptionSpec, noPositional, parseArgs } from '../runtime/args';
import { ROLE_OPTIONS, startRoleRuntime } from '../runtime/role-runtime';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { resolveJobSpec } from '../spec/job-spec-source';
import { EtcdJobStore } from '../control/etcd-job-store';
import { failureExitCode, incarnationLookup } from '../control/job-types';
import { StepPositions } from '../control/step-positions';
import { ShardMapStore } from '../membership/shard-map-store';
import { watchLiveCount } from '../membership/live-count';
import { WorkerMetrics } from '../worker/worker-metrics';
import { selectBackend, tfThreads } from '../model/backend';
import { PsClient } from '../client/ps-client';
import { StepNumbering } from '../client/step-numbering';
import { tuneHeapGrowth } from '../common/heap-growth';
import { loadDataPlane } from '../wire/grpc-options';
import { DEFAULT_STALENESS_SAMPLE_EVERY } from '../client/row-versions';
import { WorkerRole } from '../worker/worker-role';
import { DataThreadSession } from '../worker/data-thread-session';
import { psParams, trainingClientOptions } from '../worker/ps-params';

/** Options of `tessera worker`; exported so deploy checks parse manifest args with the real parser. */
export const WORKER_SPEC: Record<string, OptionSpec> = {
  ...ROLE_OPTIONS,
  id: { type: 'string', describe: 'worker id, unique in the job (default worker-<JOB_COMPLETION_INDEX> or worker-<host>-<pid>) [TESSERA_WORKER_ID]' },
  backend: { type: 'string', describe: 'tfjs backend to prefer: tensorflow | webgpu | wasm | cpu [TESSERA_TF_BACKEND]' },
  'tf-threads': { type: 'string', describe: 'threads for the wasm backend\'s kernels: 1..8, or auto (the host\'s cores, at most 4); default 1 [TESSERA_TF_THREADS]' },
  'commit-every-ms': { type: 'string', describe: 'least time between two data-position commits to etcd', default: '1000' },
  'data-plane': { type: 'string', describe: 'what carries pulls and pushes: grpc-js, or gRPC framing directly on node:http2 (same protocol, less CPU per row; ADR 0038) (default http2) [TESSERA_DATA_PLANE]' },
  'staleness-sample-every': { type: 'string', describe: `one training step in N measures push staleness (row versions on its pulls and its push); 0 = off; default ${DEFAULT_STALENESS_SAMPLE_EVERY} [TESSERA_STALENESS_SAMPLE_EVERY]` },
};

/** `--staleness-sample-every` (or its environment variable), checked. */
export function stalenessSampleEvery(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_STALENESS_SAMPLE_EVERY;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isSafeInteger(n) || n < 0) {
    throw new TesseraError(ERROR_CODES.CONFIG, `--staleness-sample-every (TESSERA_STALENESS_SAMPLE_EVERY) must be an integer ≥ 0 (0 = off), got "${raw}"`);
  }
  return n;
}

/** `tessera worker --help`. */
export const WORKER_HELP = helpText('tessera worker --etcd URL --job NAME [--id ID] [--port P] [--metrics-port M]',
  'Joins the job as a training worker: pulls rows from the PS, trains the data shards the chief\n'
  + 'assigns, pushes gradients, and commits its position in each shard to etcd. Exits 0 when the\n'
  + 'job is done; 1 (2 for a configuration error) when the chief failed it.', WORKER_SPEC);

function defaultWorkerId(): string | undefined {
  if (process.env.TESSERA_WORKER_ID) return process.env.TESSERA_WORKER_ID;
  const index = process.env.JOB_COMPLETION_INDEX; // Kubernetes Indexed Job
  return index !== undefined && /^\d+$/.test(index) ? `worker-${index}` : undefined;
}

/** Runs a worker until the job is done or SIGINT/SIGTERM; resolves with the exit code. */
export async function runWorker(argv: string[]): Promise<number> {
  const args = parseArgs(argv, WORKER_SPEC);
  noPositional(args);
  const o = args.options as Record<string, string | undefined>;
  const sampleEvery = stalenessSampleEvery(o['staleness-sample-every'] ?? process.env.TESSERA_STALENESS_SAMPLE_EVERY);
  const dataPlane = loadDataPlane(process.env, o['data-plane']);
  tuneHeapGrowth(process.env);
  const rt = await startRoleRuntime('worker', args, defaultWorkerId());
  const { logger, etcd, job, membership } = rt;
  let role: WorkerRole | null = null;
  let stopSignal: string | null = null;
  void rt.stopping.then((signal) => {
    stopSignal = signal;
    logger.info({ signal }, 'shutting down: committing the current position');
    role?.stop();
  });
  try {
    const reg = await membership.register('worker', rt.id, rt.advertise);
    reg.on('lost', () => logger.warn('membership lease lost: this incarnation\'s shards will be taken back'));
    reg.on('failed', (err) => {
      logger.error({ err: err.message }, 'worker id taken by another process; stopping');
      role?.stop();
    });
    // Workers training at once share one push budget (src/worker/job-push-window.ts); the
    // watch closes with the runtime's membership.
    const workers = await watchLiveCount(membership, 'worker');
    const spec = await resolveJobSpec({ client: etcd, job, logger });
    const backend = await selectBackend(logger, o.backend ?? process.env.TESSERA_TF_BACKEND, { threads: tfThreads(o['tf-threads'] ?? process.env.TESSERA_TF_THREADS) });
    logger.info({ backend: backend.name, model: spec.model.kind, dataPlane }, 'worker ready');
    rt.buildInfo.setBackend(backend.name);
    let current: WorkerRole | null = null;
    const metrics = new WorkerMetrics(rt.metrics.registry, {
      pushes: { get inflightPushes() { return current?.inflightPushes ?? 0; }, get pushThrottles() { return current?.pushThrottles ?? 0; } },
    });
    const shardMaps = new ShardMapStore({ client: etcd, job, logger });
    // Every push is tagged with its step and the positions after it (a cut at per-worker steps, ADR 0040).
    const positions = new StepPositions({ worker: rt.id, incarnation: () => reg.incarnation });
    const steps = new StepNumbering(() => positions.encode());
    role = new WorkerRole({
      id: rt.id, incarnation: () => reg.incarnation, spec, logger,
      store: new EtcdJobStore({ client: etcd, job, logger }),
      shardMaps,
      openStream: (url) => new RedisStreamLog(parseStreamUrl(url)),
      connect: (map, tables) => psParams(new PsClient({
        // A PS refusing the map as old: read the newest from etcd and re-send only the refused slices.
        shardMap: map, latestMap: () => shardMaps.get(), logger, ...trainingClientOptions(spec.training), tableIncarnation: incarnationLookup(tables),
        credentials: rt.tls?.channelCredentials(), dataPlane, http2Tls: rt.tls && dataPlane === 'http2' ? () => rt.tls!.httpsClient() : undefined,
        stalenessSampleEvery: sampleEvery, onStaleness: (u) => metrics.onStaleness(u), steps,
      })),
      positions,
      // training.data_thread: the same client (data plane, TLS), built on the data thread (TLS files re-read there).
      startDataThread: (init) => new DataThreadSession({
        init: { ...init, spec, logLevel: logger.level, stalenessSampleEvery: sampleEvery, dataPlane, ...(rt.tls ? { tls: rt.tls.config } : {}) },
        onStaleness: (u) => metrics.onStaleness(u), latestMap: () => shardMaps.get(),
      }),
      commitEveryMs: intOption(args, 'commit-every-ms', 1),
      onStep: (s) => metrics.onStep(s),
      liveWorkers: () => workers.count(),
      onBadLines: (n) => metrics.onBadLines(n),
      onShardFailure: () => metrics.onShardFailure(),
      staleness: () => metrics.staleness.counts,
    });
    current = role;
    if (stopSignal) return 0;
    const outcome = await role.run();
    if (outcome === 'failed' && role.failure) {
      logger.error({ code: role.failure.code, reason: role.failure.reason }, 'the job failed; exiting');
      process.stderr.write(`tessera worker: job ${job} failed: ${role.failure.reason} [${role.failure.code}]\n`);
      return failureExitCode(role.failure);
    }
    logger.info({ outcome }, outcome === 'done' ? 'job done; exiting' : 'stopped');
    return 0;
  } finally {
    await rt.close();
  }
}
