/**
 * `tessera local`: a whole cluster on this machine (its own etcd, N PS, M workers, two chiefs,
 * each a separate OS process, restarted when it dies as Kubernetes would), one live progress
 * line with a line per restart, logs in a run directory, clean stop on Ctrl-C.
 * With no flags it trains DeepFM on synthetic data from `tessera gen` and prints the planted
 * model's (oracle) AUC beside its own.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isStreamUrl, parseStreamUrl } from '../stream/stream-url';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { etcdAvailable, ETCD_MISSING_MESSAGE } from '../common/etcd-launcher';
import { initCertDir } from '../common/cert-issuer';
import type { JobStatus } from '../control/job-types';
import { generate } from '../gen/generate';
import { checkpointErrorPolicy, checkWarmStartTables, resolveCheckpointRef } from '../chief/checkpoint-args';
import { listCheckpoints, readManifest } from '../checkpoint';
import type { JobSpec } from '../spec/types';
import { ClusterFailedError, LocalCluster } from '../local/local-cluster';
import { METRICS_LOG_FILE } from '../local/run-records';
import { tfThreads } from '../model/tf-threads';
import { loadJobSpec } from '../spec/job-spec';
import { helpText, intOption, OptionSpec, ParsedArgs, noPositional, parseArgs } from '../runtime/args';
import { checkEtcdReachable } from '../runtime/etcd-client';
import { checkDataFiles } from '../data/data-errors';
import { CHIEF_SPEC } from './chief';
import { deltaEveryMs } from './chief-deltas';
import { ProgressLine } from './progress';

const EXAMPLES = path.resolve(__dirname, '..', '..', __dirname.includes(`${path.sep}dist${path.sep}`) ? '..' : '', 'examples');

export const LOCAL_SPEC: Record<string, OptionSpec> = {
  job: { type: 'string', describe: 'job spec YAML', default: path.join(EXAMPLES, 'synthetic-deepfm.yaml') },
  ps: { type: 'string', describe: 'parameter server processes', default: '2' },
  'ps-shards': { type: 'string', describe: 'shard servers in each PS process (tessera ps --shards): the job has ps × ps-shards PS in its shard map', default: '1' },
  workers: { type: 'string', describe: 'workers', default: '2' },
  chiefs: { type: 'string', describe: 'chief candidates: one leads, the others stand by and take over', default: '2' },
  data: { type: 'string', describe: 'training data (default: data.train, or synthetic rows from tessera gen)' },
  eval: { type: 'string', describe: 'evaluation data (default: data.eval, or the synthetic held-out split)' },
  epochs: { type: 'string', describe: 'override training.epochs' },
  shards: { type: 'string', describe: 'data shards per epoch (default 4 per worker)' },
  source: { type: 'string', describe: 'train online from an event stream, redis-stream://HOST:PORT/KEY (fed by tessera replay): no epochs, runs until Ctrl-C/SIGTERM' },
  partitions: CHIEF_SPEC.partitions,
  'eval-every': CHIEF_SPEC['eval-every'],
  'checkpoint-dir': { type: 'string', describe: 'checkpoint root: checkpoints DIR/<id> and the model DIR/model; default RUN_DIR/checkpoints' },
  'export-dir': { type: 'string', describe: 'model root: the chief publishes ROOT/<spec name>/<version>/ at every epoch end and the job end (tessera serve --model-root ROOT serves them)' },
  'checkpoint-every': { type: 'string', describe: 'seconds between checkpoints while training (0: epoch ends and the job end)', default: '0' },
  'delta-every': CHIEF_SPEC['delta-every'],
  'full-every': CHIEF_SPEC['full-every'],
  'on-checkpoint-error': { type: 'string', describe: 'a checkpoint that fails on its directory (disk full, not writable): fail the job, or continue and try again at the next one', default: 'fail' },
  resume: { type: 'string', describe: 'resume a stopped job from a checkpoint under --checkpoint-dir: latest | ID' },
  'init-from': { type: 'string', describe: 'warm start from a checkpoint (DIR/ID, or DIR for its latest) on new data' },
  'run-dir': { type: 'string', describe: 'directory for logs and generated data (default: a new temp dir)' },
  etcd: { type: 'string', describe: 'use this etcd (http://host:port) instead of starting one' },
  name: { type: 'string', describe: 'job name in etcd (default: the spec name plus a time stamp)' },
  'synthetic-rows': { type: 'string', describe: 'training rows generated when no data is given', default: '200000' },
  backend: { type: 'string', describe: 'tfjs backend for workers and chief: tensorflow | webgpu | wasm | cpu' },
  'tf-threads': { type: 'string', describe: 'wasm kernel threads of each worker and the chief: 1..8 or auto (default 1, or TESSERA_TF_THREADS)' },
  force: { type: 'boolean', describe: 'replace a different spec stored under the same job name' },
  json: { type: 'boolean', describe: 'print the result as one JSON line on stdout, {"samples","samples_per_s","auc","logloss","checkpoint"} (-o json is the same)' },
  tls: { type: 'boolean', describe: 'mutual TLS everywhere: a CA and a certificate per process in RUN_DIR/tls, etcd with client-certificate auth' },
};

export const LOCAL_HELP = helpText('tessera local [--job FILE] [--ps N] [--workers M] [--data PATH | --source redis-stream://HOST:PORT/KEY [--partitions N]] [--eval PATH] [--epochs E] [--checkpoint-dir DIR] [--export-dir ROOT] [--resume latest|ID] [--etcd URL] [--json]',
  'Runs a whole cluster on this machine as separate processes, trains, evaluates after each\n'
  + 'epoch and saves the model (readable by `tessera eval --checkpoint DIR/model`). A process that\n'
  + 'dies is restarted with backoff (one line per restart); one that keeps failing right after it\n'
  + 'starts ends the run with its last log line. Logs of every process go to the run directory it\n'
  + 'prints. Ctrl-C stops every process. Exits 0 when the job is done, 1 when it failed, 2 when the\n'
  + 'cause is the input or configuration (e.g. training data with no rows).', LOCAL_SPEC);

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
}

function progressText(s: JobStatus, eta: string): string {
  const auc = s.lastEval ? s.lastEval.auc.toFixed(4) : '-';
  const loss = s.loss === null ? '-' : s.loss.toFixed(4);
  return `epoch ${s.epoch + 1}/${s.epochs} ${s.phase}  step ${s.step}  samples ${s.samples}  ${s.samplesPerS.toFixed(0)} samples/s  `
    + `loss ${loss}  eval AUC ${auc}  shards ${s.shardsDone}/${s.shardsTotal}  workers ${s.workers}${eta}`;
}

/**
 * The live line, plus one line that stays for each epoch evaluated (as `tessera train` prints):
 * `epoch n/N: eval AUC …`. The ETA extrapolates the time so far over the shards done.
 */
function statusPrinter(progress: ProgressLine): (s: JobStatus) => void {
  const started = Date.now();
  let printed = -1;
  return (s) => {
    if (s.lastEval && s.lastEval.epoch > printed) {
      printed = s.lastEval.epoch;
      progress.done(`epoch ${s.lastEval.epoch + 1}/${s.epochs}: eval AUC ${s.lastEval.auc.toFixed(4)}  LogLoss ${s.lastEval.logloss.toFixed(4)}  `
        + `(${s.lastEval.rows} rows); ${s.samples} samples trained`);
    }
    const done = (s.epoch + (s.phase === 'train' && s.shardsTotal > 0 ? s.shardsDone / s.shardsTotal : 1)) / Math.max(1, s.epochs);
    const seconds = (Date.now() - started) / 1000;
    const eta = done > 0 && done < 1 && s.phase !== 'done' ? `  ETA ${formatSeconds(seconds * (1 - done) / done)}` : '';
    progress.update(progressText(s, eta));
  };
}

function formatSeconds(s: number): string {
  return s < 90 ? `${Math.ceil(s)} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`;
}

export async function runLocal(argv: string[]): Promise<number> {
  const args = parseArgs(argv, LOCAL_SPEC);
  noPositional(args);
  const o = args.options as Record<string, string | undefined>;
  const err = process.stderr;
  // Every argument is checked before any work (etcd, data generation), so a typo costs nothing.
  const n = localCounts(args);
  const onCheckpointError = checkpointErrorPolicy(o['on-checkpoint-error']);
  const threads = o['tf-threads'] === undefined ? undefined : tfThreads(o['tf-threads']);
  // The checkpoint root always exists here (default RUN_DIR/checkpoints): only --export-dir can be missing.
  const deltaEvery = deltaEveryMs(args, 'RUN_DIR/checkpoints', o['export-dir']) / 1000;
  if (o.resume && !o['checkpoint-dir']) throw new TesseraError(ERROR_CODES.CONFIG, '--resume needs --checkpoint-dir DIR (where the stopped job checkpointed)');
  const specPath = path.resolve(o.job!);
  const spec = loadJobSpec(specPath);
  if (o.source && o.data) throw new TesseraError(ERROR_CODES.CONFIG, 'give --source (a stream) or --data (files), not both');
  const stream = o.source !== undefined || (o.data !== undefined && isStreamUrl(o.data));
  if (stream) parseStreamUrl(o.source ?? o.data!); // a malformed URL fails here, before etcd starts
  const given: { data?: string; evalPath?: string; oracleAuc?: number } = { data: o.source ?? o.data ?? spec.data.train ?? undefined, evalPath: o.eval ?? spec.data.eval ?? undefined };
  if (!stream) await checkDataFiles(given.data ? given.data.split(',').map((f) => f.trim()).filter(Boolean) : [], 'training data');
  await checkDataFiles(given.evalPath ? [given.evalPath] : [], 'evaluation data');
  await checkCheckpointArgs(o, spec);
  if (o.etcd) await checkEtcdReachable(o.etcd, '--etcd (or leave it out: tessera local then starts its own etcd)');
  else if (!etcdAvailable()) throw new TesseraError(ERROR_CODES.CONFIG, ETCD_MISSING_MESSAGE);
  const runDir = path.resolve(o['run-dir'] ?? fs.mkdtempSync(path.join(os.tmpdir(), `tessera-local-${stamp()}-`)));
  fs.mkdirSync(runDir, { recursive: true });
  err.write(`tessera local: ${n.ps} PS${n.psShards > 1 ? ` × ${n.psShards} shards` : ''}, ${n.workers} workers, ${n.chiefs} chiefs, ${spec.model.kind}; logs in ${runDir}\n`);
  const { data, evalPath, oracleAuc } = given.data || o.resume ? given : await syntheticData(n.syntheticRows, runDir, given.evalPath);
  const checkpointDir = path.resolve(o['checkpoint-dir'] ?? path.join(runDir, 'checkpoints'));
  const progress = new ProgressLine(err);
  const job = o.name ?? `${spec.name}-${stamp()}`;
  const tlsDir = args.options.tls === true ? path.join(runDir, 'tls') : undefined;
  if (tlsDir) {
    if (o.etcd) throw new TesseraError(ERROR_CODES.CONFIG, '--tls starts its own etcd with TLS; drop --etcd');
    await initCertDir(tlsDir, job, { ps: n.ps, workers: n.workers, chiefs: n.chiefs });
    err.write(`tessera local: mutual TLS, CA and certificates in ${tlsDir}\n`);
  }
  const cluster = await LocalCluster.start({
    tlsDir,
    chiefs: n.chiefs, onCheckpointError, onEvent: (line) => progress.done(`tessera local: ${line}`),
    runDir, job, specPath: o.resume && !argvHas(argv, '--job') ? '' : specPath, ps: n.ps, psShards: n.psShards, workers: n.workers,
    data: data ? path.resolve(data) : undefined, resume: o.resume, initFrom: o['init-from'], checkpointEvery: n.checkpointEvery,
    eval: evalPath ? path.resolve(evalPath) : undefined, epochs: n.epochs, shards: n.shards, checkpointDir, etcdUrl: o.etcd,
    exportDir: o['export-dir'] ? path.resolve(o['export-dir']) : undefined,
    deltaEvery, fullEvery: intOption(args, 'full-every', 1),
    backend: o.backend, force: args.options.force === true, tfThreads: threads,
    // A stream job: the URL as given (not a path), its partitions, and no eval file (it evaluates on KEY:eval).
    ...(stream ? { data, eval: undefined, partitions: intOption(args, 'partitions', 1), evalEvery: intOption(args, 'eval-every', 0) } : {}),
  });
  err.write(`tessera local: etcd ${cluster.etcdUrl}, job ${cluster.opts.job}\n`);
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
    err.write('\ntessera local: stopping every process …\n');
    void cluster.stop();
  };
  process.once('SIGINT', onSigint);
  process.once('SIGTERM', onSigint);
  err.write(`tessera local: Prometheus targets (file_sd) in ${cluster.scrapeTargets!.file}; curves in ${path.join(runDir, METRICS_LOG_FILE)}\n`);
  // Printed on its own line as soon as the chief serves it (it starts after etcd and the PS).
  void cluster.pageUrl().then((url) => progress.done(`tessera local: training page ${url}`), () => undefined);
  try {
    const result = await cluster.waitDone(statusPrinter(progress));
    progress.clear();
    if (result.checkpoint) err.write(`model saved to ${result.checkpoint} (tessera eval --checkpoint ${result.checkpoint} --data …)\n`);
    if (result.model_version !== undefined) err.write(`model version ${result.model_version} published under ${o['export-dir']} (tessera serve --model-root ${o['export-dir']})\n`);
    err.write(`logs in ${runDir}\n`);
    const out = { ...result, ...(oracleAuc !== undefined ? { oracle_auc: oracleAuc } : {}), run_dir: runDir };
    // The result on stdout: one JSON line with --json, else one line of text.
    process.stdout.write(args.options.json ? `${JSON.stringify(out)}\n`
      : `done: ${result.samples} samples at ${result.samples_per_s.toFixed(0)} samples/s; eval AUC ${result.auc?.toFixed(4) ?? '-'}`
        + `${oracleAuc !== undefined ? ` (oracle AUC ${oracleAuc.toFixed(4)})` : ''}, LogLoss ${result.logloss?.toFixed(4) ?? '-'}\n`);
    return 0;
  } catch (e) {
    if (interrupted) {
      await cluster.stop();
      err.write(`${await whatWasSaved(checkpointDir)}\n`);
      // A stream job has no end: a signal is how it stops, not an interruption.
      return stream ? 0 : 130;
    }
    if (!(e instanceof ClusterFailedError)) throw e;
    progress.done(`tessera local: ${e.message}`);
    return e.exitCode;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    await cluster.stop();
  }
}

/** After Ctrl-C: the newest checkpoint under `dir` and the command that resumes from it, or that none was saved. */
async function whatWasSaved(dir: string): Promise<string> {
  const all = await listCheckpoints(dir).catch(() => []);
  const last = all[all.length - 1];
  if (!last) return `tessera local: stopped; nothing was saved (no checkpoint in ${dir}; --checkpoint-every N saves one every N seconds)`;
  return `tessera local: stopped; checkpoint ${last.id} saved (step ${last.step ?? '?'}); resume with:\n`
    + `  tessera local --resume latest --checkpoint-dir ${dir}`;
}

/**
 * --resume and --init-from name checkpoints that exist, and a warm start's tables are the spec's:
 * checked here, before etcd and the processes start (the chief checks them again).
 */
async function checkCheckpointArgs(o: Record<string, string | undefined>, spec: JobSpec): Promise<void> {
  const dir = o['checkpoint-dir'] ? path.resolve(o['checkpoint-dir']) : undefined;
  if (o.resume) await resolveCheckpointRef(o.resume, dir);
  if (!o['init-from']) return;
  const ref = await resolveCheckpointRef(o['init-from'], dir);
  checkWarmStartTables(spec.features.tables.map((t) => t.name), await readManifest(path.join(ref.root, ref.id)));
}

/** The numeric options of `tessera local`, each checked (an error names the flag). */
function localCounts(args: ParsedArgs) {
  const o = args.options;
  const workers = intOption(args, 'workers', 1);
  return {
    ps: intOption(args, 'ps', 1), psShards: intOption(args, 'ps-shards', 1), workers, chiefs: intOption(args, 'chiefs', 1), syntheticRows: intOption(args, 'synthetic-rows', 1),
    checkpointEvery: intOption(args, 'checkpoint-every', 0), epochs: o.epochs === undefined ? undefined : intOption(args, 'epochs', 1),
    shards: o.shards === undefined ? workers * 4 : intOption(args, 'shards', 1),
  };
}

/** Writes `rows` synthetic training rows (and a tenth as many held out, unless an eval file is given). */
async function syntheticData(rows: number, runDir: string, evalGiven: string | undefined): Promise<{ data: string; evalPath: string; oracleAuc?: number }> {
  const data = path.join(runDir, 'synthetic-train.tsv');
  const evalPath = evalGiven ?? path.join(runDir, 'synthetic-eval.tsv');
  process.stderr.write(`tessera gen: ${rows} training rows and ${Math.ceil(rows / 10)} held-out rows from a planted model …\n`);
  const g = await generate({ rows, seed: 7, vocab: 1_000_000, zipf: 1.1, out: data, evalRows: Math.ceil(rows / 10), evalOut: evalPath });
  const oracleAuc = g.eval?.oracleAuc;
  process.stderr.write(`tessera gen: wrote ${data}; oracle AUC on the held-out rows ${oracleAuc?.toFixed(4)}\n`);
  return { data, evalPath, oracleAuc };
}

function argvHas(argv: string[], flag: string): boolean {
  return argv.some((a) => a === flag || a.startsWith(`${flag}=`));
}
