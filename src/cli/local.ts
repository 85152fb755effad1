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
import { ERROR_CODES, TesseraError } from '../common/errors';
import { etcdAvailable, ETCD_MISSING_MESSAGE } from '../common/etcd-launcher';
import { initCertDir } from '../common/cert-issuer';
import type { JobStatus } from '../control/job-types';
import { generate } from '../gen/generate';
import { checkpointErrorPolicy } from '../chief/checkpoint-args';
import { ClusterFailedError, LocalCluster } from '../local/local-cluster';
import { METRICS_LOG_FILE } from '../local/run-records';
import { tfThreads } from '../model/tf-threads';
import { loadJobSpec } from '../spec/job-spec';
import { helpText, intOption, OptionSpec, parseArgs } from '../runtime/args';
import { ProgressLine } from './progress';

const EXAMPLES = path.resolve(__dirname, '..', '..', __dirname.includes(`${path.sep}dist${path.sep}`) ? '..' : '', 'examples');

export const LOCAL_SPEC: Record<string, OptionSpec> = {
  job: { type: 'string', describe: 'job spec YAML', default: path.join(EXAMPLES, 'synthetic-deepfm.yaml') },
  ps: { type: 'string', describe: 'parameter servers', default: '2' },
  workers: { type: 'string', describe: 'workers', default: '2' },
  chiefs: { type: 'string', describe: 'chief candidates: one leads, the others stand by and take over', default: '2' },
  data: { type: 'string', describe: 'training data (default: data.train, or synthetic rows from tessera gen)' },
  eval: { type: 'string', describe: 'evaluation data (default: data.eval, or the synthetic held-out split)' },
  epochs: { type: 'string', describe: 'override training.epochs' },
  shards: { type: 'string', describe: 'data shards per epoch (default 4 per worker)' },
  'checkpoint-dir': { type: 'string', describe: 'checkpoint root: checkpoints DIR/<id> and the model DIR/model; default RUN_DIR/checkpoints' },
  'export-dir': { type: 'string', describe: 'model root: the chief publishes ROOT/<spec name>/<version>/ at every epoch end and the job end (tessera serve --model-root ROOT serves them)' },
  'checkpoint-every': { type: 'string', describe: 'seconds between checkpoints while training (0: epoch ends and the job end)', default: '0' },
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
  json: { type: 'boolean', describe: 'print {"samples","samples_per_s","auc","logloss","checkpoint"} as the last line' },
  tls: { type: 'boolean', describe: 'mutual TLS everywhere: a CA and a certificate per process in RUN_DIR/tls, etcd with client-certificate auth' },
};

export const LOCAL_HELP = helpText('tessera local [--job FILE] [--ps N] [--workers M] [--data PATH] [--eval PATH] [--epochs E] [--checkpoint-dir DIR] [--export-dir ROOT] [--resume latest|ID] [--etcd URL] [--json]',
  'Runs a whole cluster on this machine as separate processes, trains, evaluates after each\n'
  + 'epoch and saves the model (readable by `tessera eval --checkpoint DIR/model`). A process that\n'
  + 'dies is restarted with backoff (one line per restart); one that keeps failing right after it\n'
  + 'starts ends the run with its last log line. Logs of every process go to the run directory it\n'
  + 'prints. Ctrl-C stops every process. Exits 0 when the job is done, 1 when it failed, 2 when the\n'
  + 'cause is the input or configuration (e.g. training data with no rows).', LOCAL_SPEC);

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
}

function progressText(s: JobStatus): string {
  const auc = s.lastEval ? s.lastEval.auc.toFixed(4) : '-';
  const loss = s.loss === null ? '-' : s.loss.toFixed(4);
  return `epoch ${s.epoch + 1}/${s.epochs} ${s.phase}  step ${s.step}  samples ${s.samples}  ${s.samplesPerS.toFixed(0)} samples/s  `
    + `loss ${loss}  eval AUC ${auc}  shards ${s.shardsDone}/${s.shardsTotal}  workers ${s.workers}`;
}

export async function runLocal(argv: string[]): Promise<number> {
  const args = parseArgs(argv, LOCAL_SPEC);
  if (args.positional.length > 0) throw new TesseraError(ERROR_CODES.CONFIG, `unexpected argument "${args.positional[0]}" (see --help)`);
  const o = args.options as Record<string, string | undefined>;
  const err = process.stderr;
  if (!o.etcd && !etcdAvailable()) throw new TesseraError(ERROR_CODES.CONFIG, ETCD_MISSING_MESSAGE);
  const specPath = path.resolve(o.job!);
  const spec = loadJobSpec(specPath);
  const numPs = intOption(args, 'ps', 1);
  const numWorkers = intOption(args, 'workers', 1);
  const numChiefs = intOption(args, 'chiefs', 1);
  const onCheckpointError = checkpointErrorPolicy(o['on-checkpoint-error']);
  const runDir = path.resolve(o['run-dir'] ?? fs.mkdtempSync(path.join(os.tmpdir(), `tessera-local-${stamp()}-`)));
  fs.mkdirSync(runDir, { recursive: true });
  err.write(`tessera local: ${numPs} PS, ${numWorkers} workers, ${numChiefs} chiefs, ${spec.model.kind}; logs in ${runDir}\n`);
  if (o.resume && !o['checkpoint-dir']) throw new TesseraError(ERROR_CODES.CONFIG, '--resume needs --checkpoint-dir DIR (where the stopped job checkpointed)');
  const given: { data?: string; evalPath?: string; oracleAuc?: number } = { data: o.data ?? spec.data.train ?? undefined, evalPath: o.eval ?? spec.data.eval ?? undefined };
  const { data, evalPath, oracleAuc } = given.data || o.resume ? given : await syntheticData(intOption(args, 'synthetic-rows', 1), runDir, given.evalPath);
  const checkpointDir = path.resolve(o['checkpoint-dir'] ?? path.join(runDir, 'checkpoints'));
  const progress = new ProgressLine(err);
  const job = o.name ?? `${spec.name}-${stamp()}`;
  const tlsDir = args.options.tls === true ? path.join(runDir, 'tls') : undefined;
  if (tlsDir) {
    if (o.etcd) throw new TesseraError(ERROR_CODES.CONFIG, '--tls starts its own etcd with TLS; drop --etcd');
    await initCertDir(tlsDir, job, { ps: numPs, workers: numWorkers, chiefs: numChiefs });
    err.write(`tessera local: mutual TLS, CA and certificates in ${tlsDir}\n`);
  }
  const cluster = await LocalCluster.start({
    tlsDir,
    chiefs: numChiefs, onCheckpointError, onEvent: (line) => progress.done(`tessera local: ${line}`),
    runDir, job, specPath: o.resume && !argvHas(argv, '--job') ? '' : specPath, ps: numPs, workers: numWorkers,
    data: data ? path.resolve(data) : undefined, resume: o.resume, initFrom: o['init-from'], checkpointEvery: intOption(args, 'checkpoint-every', 0),
    eval: evalPath ? path.resolve(evalPath) : undefined, epochs: o.epochs === undefined ? undefined : intOption(args, 'epochs', 1),
    shards: o.shards === undefined ? numWorkers * 4 : intOption(args, 'shards', 1), checkpointDir, etcdUrl: o.etcd,
    exportDir: o['export-dir'] ? path.resolve(o['export-dir']) : undefined,
    backend: o.backend, force: args.options.force === true, tfThreads: o['tf-threads'] === undefined ? undefined : tfThreads(o['tf-threads']),
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
    const result = await cluster.waitDone((s) => progress.update(progressText(s)));
    progress.done(`done: ${result.samples} samples at ${result.samples_per_s.toFixed(0)} samples/s; eval AUC ${result.auc?.toFixed(4) ?? '-'}`
      + `${oracleAuc !== undefined ? ` (oracle AUC ${oracleAuc.toFixed(4)})` : ''}, LogLoss ${result.logloss?.toFixed(4) ?? '-'}`);
    if (result.checkpoint) err.write(`model saved to ${result.checkpoint} (tessera eval --checkpoint ${result.checkpoint} --data …)\n`);
    if (result.model_version !== undefined) err.write(`model version ${result.model_version} published under ${o['export-dir']} (tessera serve --model-root ${o['export-dir']})\n`);
    err.write(`logs in ${runDir}\n`);
    const out = { ...result, ...(oracleAuc !== undefined ? { oracle_auc: oracleAuc } : {}), run_dir: runDir };
    process.stdout.write(args.options.json ? `${JSON.stringify(out)}\n` : `${JSON.stringify(out, null, 2)}\n`);
    return 0;
  } catch (e) {
    if (interrupted) return 130;
    if (!(e instanceof ClusterFailedError)) throw e;
    progress.done(`tessera local: ${e.message}`);
    return e.exitCode;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    await cluster.stop();
  }
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
