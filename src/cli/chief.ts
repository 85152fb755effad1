/**
 * `tessera chief --etcd URL --job NAME`: one chief candidate. Candidates campaign through etcd;
 * the elected one runs the job (src/chief/chief.ts) and the others wait as standbys, taking over
 * within the lease TTL when the leader dies.
 */
import { GrpcMigrationPeers } from '../client/migration-peers';
import { GrpcReplicationPeers } from '../client/replication-peers';
import { PsClient } from '../client/ps-client';
import * as path from 'node:path';
import { helpText, intOption, OptionSpec, parseArgs } from '../runtime/args';
import { startRoleRuntime } from '../runtime/role-runtime';
import { ROLE_OPTIONS } from '../runtime/role-runtime';
import { backoffDelay, DEFAULT_BACKOFF, delay } from '../common/backoff';
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { Logger } from '../common/logger';
import { EtcdJobStore } from '../control/etcd-job-store';
import { failureExitCode } from '../control/job-types';
import { LeaderElection } from '../membership/leader';
import { ShardMapStore } from '../membership/shard-map-store';
import { ChiefMetrics } from '../chief/chief-metrics';
import { StatusPage } from '../chief/status-page';
import { serveStatusPage } from './status-page-routes';
import { selectBackend, tfThreads } from '../model/backend';
import { psChiefModel } from '../chief/chief-model';
import { Chief, ChiefOutcome } from '../chief/chief';
import { describeDataFiles, planDataShards, planStreamPartitions } from '../chief/data-shards';
import { RedisStreamLog } from '../stream/redis-stream-log';
import { heldOutRows } from '../stream/held-out';
import { isStreamUrl, parseStreamUrl } from '../stream/stream-url';
import { schemaFor } from '../data/record';
import { readManifest } from '../checkpoint';
import { jobSpecToYaml, modelFingerprint, parseJobSpec, specFingerprint } from '../spec/job-spec';
import type { JobSpec } from '../spec/types';
import { checkpointErrorPolicy, checkWarmStartTables, resolveCheckpointRef } from '../chief/checkpoint-args';
import { psCheckpointBackend } from '../chief/checkpoint-backend';
import { Checkpointer, checkpointJobOf, CheckpointJob } from '../chief/checkpointer';
import { DEFAULT_FULL_EVERY } from '../chief/delta-publisher';
import { deltaEveryMs, deltaStream } from './chief-deltas';
import type { ChiefModel } from '../chief/chief-model';
import { resolveJobSpec } from '../spec/job-spec-source';
import { checkEarlyStopEval } from '../spec/overrides';
import { restoreFromCheckpoint } from '../client/restore-checkpoint';

/** Options of `tessera chief`; exported so deploy checks parse manifest args with the real parser. */
export const CHIEF_SPEC: Record<string, OptionSpec> = {
  ...ROLE_OPTIONS,
  id: { type: 'string', describe: 'this candidate\'s id (default chief-<host>-<pid>) [TESSERA_CHIEF_ID]' },
  spec: { type: 'string', describe: 'job spec YAML to store in etcd (default: the one already there)' },
  force: { type: 'boolean', describe: 'replace a different spec already stored under this job name' },
  ps: { type: 'string', describe: 'number of parameter servers the shard map spreads over', default: '2' },
  data: { type: 'string', describe: 'training data files, comma-separated (overrides data.train)' },
  eval: { type: 'string', describe: 'evaluation data file (overrides data.eval)' },
  epochs: { type: 'string', describe: 'override training.epochs' },
  shards: { type: 'string', describe: 'data shards per epoch (default: one per 64 MiB, at least 8)' },
  partitions: { type: 'string', describe: 'with --data redis-stream://HOST:PORT/KEY: the stream\'s partitions KEY:0..N-1 (as written by tessera replay --partitions N)', default: '1' },
  'eval-every': { type: 'string', describe: 'with a stream source: seconds between evaluations on the held-out partition KEY:eval (0: none)', default: '60' },
  'checkpoint-dir': { type: 'string', describe: 'checkpoint root (shared by every PS): consistent checkpoints DIR/<id>, and the trained model DIR/model' },
  'export-dir': { type: 'string', describe: 'model root: publish the model as ROOT/<spec name>/<version>/ at every epoch end and the job end (what tessera serve reads)' },
  'delta-every': { type: 'string', describe: 'seconds between deltas to serving while training: one consistent cut, published as ROOT/<name>/deltas/<v>/ (needs --export-dir and --checkpoint-dir; 0: none)', default: '0' },
  'full-every': { type: 'string', describe: 'with --delta-every: publish a full model version after this many deltas', default: String(DEFAULT_FULL_EVERY) },
  'checkpoint-every': { type: 'string', describe: 'seconds between checkpoints while training (0: only at epoch ends and the job end)', default: '0' },
  keep: { type: 'string', describe: 'checkpoints kept (older ones are removed, never one a kept incremental needs)', default: '3' },
  resume: { type: 'string', describe: 'resume the job from a checkpoint: latest | ID | DIR/ID' },
  checkpoint: { type: 'string', describe: 'with `tessera chief resume`: latest | ID | DIR/ID' },
  'init-from': { type: 'string', describe: 'warm start a new job from a checkpoint\'s tables and dense weights (DIR/ID, or DIR for its latest); data positions start fresh' },
  backend: { type: 'string', describe: 'tfjs backend for evaluation: tensorflow | webgpu | wasm | cpu [TESSERA_TF_BACKEND]' },
  'tf-threads': { type: 'string', describe: 'threads for the wasm backend\'s kernels: 1..8, or auto (the host\'s cores, at most 4); default 1 [TESSERA_TF_THREADS]' },
  'on-checkpoint-error': { type: 'string', describe: 'a checkpoint that fails on its directory (disk full, not writable): fail the job, or continue training and try again at the next checkpoint (the final save must succeed either way)', default: 'fail' },
  linger: { type: 'boolean', describe: 'after the job is done, keep serving health and metrics until SIGTERM (Kubernetes Deployments)' },
  json: { type: 'boolean', describe: 'print the job result as one JSON line when done' },
};

/** `tessera chief --help`. */
export const CHIEF_HELP = helpText('tessera chief [resume --checkpoint latest|ID] --etcd URL --job NAME [--spec FILE] [--ps N] [--data PATH] [--eval PATH] [--epochs E] [--checkpoint-dir DIR] [--export-dir ROOT] [--resume latest|ID] [--init-from CKPT]',
  'Campaigns to lead the job. The leader creates the tables, publishes the shard map, hands data\n'
  + 'shards to workers, evaluates after each epoch and saves the model; standbys wait and take\n'
  + 'over when it dies. Exits 0 when the job is done ({"samples","samples_per_s","auc","logloss",\n'
  + '"checkpoint"} with --json); when the job failed (a cause retrying cannot fix, named on\n'
  + 'stderr), 1, or 2 for a configuration error. A chief that loses leadership campaigns again.', CHIEF_SPEC);

/** Runs one chief candidate until the job is done or SIGINT/SIGTERM; resolves with the exit code. */
export async function runChief(argv: string[]): Promise<number> {
  const args = parseArgs(argv, CHIEF_SPEC);
  const o = args.options as Record<string, string | undefined>;
  if (args.positional[0] === 'resume' && args.positional.length === 1) {
    if (!o.checkpoint) throw new TesseraError(ERROR_CODES.CONFIG, 'tessera chief resume needs --checkpoint latest|ID|DIR/ID');
    o.resume = o.checkpoint;
  } else if (args.positional.length > 0) {
    throw new TesseraError(ERROR_CODES.CONFIG, `unexpected argument "${args.positional.join(' ')}" (see --help)`);
  }
  const checkpointDir = o['checkpoint-dir'] ? path.resolve(o['checkpoint-dir']) : undefined;
  const resumeRef = o.resume ? await resolveCheckpointRef(o.resume, checkpointDir) : undefined;
  const initRef = o['init-from'] ? await resolveCheckpointRef(o['init-from'], checkpointDir) : undefined;
  const resumeManifest = resumeRef ? await readManifest(path.join(resumeRef.root, resumeRef.id)) : undefined;
  const onCheckpointError = checkpointErrorPolicy(o['on-checkpoint-error']);
  deltaEveryMs(args, checkpointDir, o['export-dir']);
  const rt = await startRoleRuntime('chief', args, process.env.TESSERA_CHIEF_ID);
  const { logger, etcd, job, membership } = rt;
  const election = new LeaderElection({ client: etcd, job, logger, ttlS: rt.leaseTtlS });
  const metrics = new ChiefMetrics(rt.metrics.registry);
  let model: ChiefModel | null = null;
  const page = new StatusPage({
    readers: {
      job, membership, leader: () => election.leader(), shardMap: () => new ShardMapStore({ client: etcd, job, logger }).get(),
      store: new EtcdJobStore({ client: etcd, job, logger }),
    },
    tables: () => (model ? model.client.admin.stats() : Promise.reject(new Error('no PS attached'))),
  });
  serveStatusPage(rt.http, page, logger);
  let chief: Chief | null = null;
  let stream: RedisStreamLog | undefined;
  let lost = false;
  const stop = rt.stopping.then((signal) => {
    logger.info({ signal }, 'shutting down');
    chief?.stop();
  });
  try {
    const overrides = { data: o.data, eval: o.eval, epochs: o.epochs === undefined ? undefined : intOption(args, 'epochs', 1) };
    const saved = resumeManifest ? checkpointJobOf(resumeManifest) : undefined;
    const spec = await resolveJobSpec({
      client: etcd, job, logger, specPath: o.spec, force: args.options.force === true, overrides,
      // Resuming with no --spec: the job's spec is the one saved in the checkpoint.
      specText: o.spec ? undefined : saved?.spec.yaml,
    });
    if (saved) checkSameModel(spec, saved, resumeRef!.id);
    if (initRef) checkWarmStartTables(spec.features.tables.map((t) => t.name), await readManifest(path.join(initRef.root, initRef.id)));
    checkEarlyStopEval(spec);
    const backend = await selectBackend(logger, o.backend ?? process.env.TESSERA_TF_BACKEND, { threads: tfThreads(o['tf-threads'] ?? process.env.TESSERA_TF_THREADS) });
    await membership.register('chief', rt.id, rt.advertise);
    rt.buildInfo.setBackend(backend.name);
    if (checkpointDir) metrics.setCheckpointInterval(intOption(args, 'checkpoint-every', 0));
    const trainPaths = (spec.data.train ?? '').split(',').map((p) => p.trim()).filter(Boolean);
    const shardCount = o.shards === undefined ? undefined : intOption(args, 'shards', 1);
    // A stream job (--data redis-stream://…): partitions instead of file shards, evaluated on its held-out slice.
    stream = spec.data.train && isStreamUrl(spec.data.train) ? new RedisStreamLog(parseStreamUrl(spec.data.train)) : undefined;
    let stopped = false;
    void stop.then(() => { stopped = true; });
    // A chief that loses leadership (its lease expired, e.g. etcd was unreachable) steps down
    // and campaigns again: whoever leads next resumes from etcd, which may be this process.
    for (let term = 0; !stopped; term++) {
      logger.info({ backend: backend.name, term }, 'campaigning to lead the job');
      const handle = await Promise.race([campaignWithRetry(election, rt.id, rt.advertise, logger, () => stopped), stop.then(() => null)]);
      if (handle === null) return 0;
      lost = false;
      metrics.setLeader(true);
      const store = new EtcdJobStore({ client: etcd, job, logger, leaderKey: await handle.key() });
      const checkpointer = checkpointDir ? new Checkpointer({
        store, membership, root: checkpointDir, logger, keep: intOption(args, 'keep', 1),
        spec: { yaml: jobSpecToYaml(spec), fingerprint: specFingerprint(spec) },
        backend: await psCheckpointBackend(() => model!.client, checkpointDir, logger),
        onWritten: (c) => { metrics.onCheckpoint(c); page.onCheckpoint(c); },
      }) : undefined;
      const shardMaps = new ShardMapStore({ client: etcd, job, logger });
      chief = new Chief({
        id: rt.id, membership, store, shardMaps, logger,
        connect: (map) => (model = psChiefModel(spec, map, logger, { credentials: rt.tls?.channelCredentials(), latestMap: () => shardMaps.get() })),
        onStatus: (s) => { metrics.onStatus(s); page.onStatus(s); },
        events: metrics,
        replication: { mode: spec.ps.replication, peers: new GrpcReplicationPeers({ credentials: rt.tls?.channelCredentials() }) },
        migrations: {
          peers: new GrpcMigrationPeers({ logger, credentials: rt.tls?.channelCredentials() }),
          // Its own client, so `model` (checkpoints cut through it) is untouched.
          prepare: async (map) => {
            const c = new PsClient({ shardMap: map, logger, credentials: rt.tls?.channelCredentials(), maxInflightPushes: 0 });
            try {
              for (const t of model!.tableSpecs) await c.admin.createTable(t);
            } finally {
              c.close();
            }
          },
        },
        options: {
          expectedPs: intOption(args, 'ps', 1), epochs: spec.training.epochs, evalPath: spec.data.eval ?? undefined,
          earlyStop: spec.training.earlyStop,
          modelDir: checkpointDir ? path.resolve(checkpointDir, 'model') : undefined,
          exportRoot: o['export-dir'] ? path.resolve(o['export-dir']) : undefined,
          planShards: async () => (stream ? planStreamPartitions(spec.data.train!, intOption(args, 'partitions', 1))
            : planDataShards(await describeDataFiles(trainPaths), shardCount)),
          streamEval: stream && intOption(args, 'eval-every', 0) > 0
            ? { everyMs: 1000 * intOption(args, 'eval-every', 0), rows: () => heldOutRows(stream!, parseStreamUrl(spec.data.train!).key, schemaFor(spec.data.format)) }
            : undefined,
          checkpoints: checkpointer ? { checkpointer, everyMs: 1000 * intOption(args, 'checkpoint-every', 0) } : undefined,
          deltas: deltaStream({ args, spec, checkpointer, checkpointDir, exportDir: o['export-dir'], store, client: () => model!.client, logger }),
          restore: resumeRef && saved ? {
            id: resumeRef.id,
            load: async (m) => {
              await restoreFromCheckpoint(m.client.checkpoints, resumeRef.root, resumeRef.id);
              return { ...saved, state: { ...saved.state, epochs: spec.training.epochs } };
            },
          } : undefined,
          initFrom: initRef, onCheckpointError, checkpointDir,
        },
      });
      const current = chief;
      const off = handle.on('lost', (err) => {
        lost = true;
        logger.error({ err: err.message }, 'lost leadership; stepping down');
        current.stop();
      });
      const outcome: ChiefOutcome | undefined = await current.lead().catch((err: unknown) => {
        if (err instanceof TesseraError && err.code === ERROR_CODES.NOT_LEADER) {
          lost = true;
          logger.error({ err: err.message }, 'lost leadership; stepping down');
          return undefined;
        }
        throw err;
      });
      off();
      metrics.setLeader(false);
      await handle.resign().catch(() => undefined);
      if (lost) continue;
      if (outcome === undefined) return 0; // stopped by a signal; a standby takes over
      const code = reportOutcome(outcome, job, args.options.json === true);
      if (args.options.linger) await stop;
      return code;
    }
    return 0;
  } finally {
    await stream?.close();
    await election.resign().catch(() => undefined);
    await rt.close();
  }
}

/** Prints how the job ended (the result on stdout, or the failure on stderr); returns the exit code. */
function reportOutcome(outcome: ChiefOutcome, job: string, json: boolean): number {
  if ('failure' in outcome) {
    process.stderr.write(`tessera chief: job ${job} failed: ${outcome.failure.reason} [${outcome.failure.code}]\n`);
    return failureExitCode(outcome.failure);
  }
  process.stdout.write(json ? `${JSON.stringify(outcome.result)}\n` : `job done: ${JSON.stringify(outcome.result)}\n`);
  return 0;
}

/** Campaigns, retrying while etcd is unreachable; null once stopped. */
async function campaignWithRetry(election: LeaderElection, id: string, addr: string, logger: Logger, stopped: () => boolean) {
  for (let attempt = 0; !stopped(); attempt++) {
    try {
      return await election.campaign(id, JSON.stringify({ id, addr }));
    } catch (err) {
      const waitMs = backoffDelay({ ...DEFAULT_BACKOFF, initialMs: 200 }, attempt);
      logger.warn({ err: (err as Error).message, waitMs }, 'campaign failed (etcd unreachable?); retrying');
      await delay(waitMs);
    }
  }
  return null;
}

/** Refuses to resume a job whose model differs from the checkpoint's (tables, dims, layers). */
function checkSameModel(spec: JobSpec, saved: CheckpointJob, id: string): void {
  const ckpt = modelFingerprint(parseJobSpec(saved.spec.yaml, `checkpoint ${id} spec`));
  const mine = modelFingerprint(spec);
  if (ckpt !== mine) {
    throw new TesseraError(ERROR_CODES.INCOMPATIBLE_SPEC,
      `checkpoint ${id} was trained with a different model (model fingerprint ${ckpt}; this job's is ${mine}): features, tables, dims or layers differ`);
  }
}
