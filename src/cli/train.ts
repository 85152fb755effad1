/**
 * `tessera train`: one worker trains a job against in-process PS shards (real gRPC servers in
 * this process) or against running PS processes (--ps), evaluates, and saves the model.
 */
import * as path from 'path';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { createLogger, Logger } from '../common/logger';
import { checkDataFiles } from '../data/data-errors';
import { selectBackend, tfThreads } from '../model/backend';
import { startPsServer, PsServer } from '../ps/ps-server';
import { planShardMap } from '../sharding/shard-map';
import { loadJobSpec } from '../spec/job-spec';
import { createMetrics } from '../metrics/registry';
import { serveMetrics } from '../metrics/http';
import { PushWindowSource, ReportedPushWindow, WorkerMetrics } from '../worker/worker-metrics';
import { BuildInfo } from '../metrics/build-info';
import type { JobSpec } from '../spec/types';
import { buildJob } from '../worker/job';
import type { StepInfo } from '../worker/trainer';
import { trainEpochs } from '../worker/epoch-loop';
import { checkEarlyStopEval, overrideSpec } from '../spec/overrides';
import { modelContent, saveTrainedModel } from '../worker/model-export';
import { PsClient } from '../client/ps-client';
import { helpText, intOption, OptionSpec, noPositional, parseArgs } from '../runtime/args';
import { ProgressLine } from './progress';
import { psParams, trainingClientOptions } from '../worker/ps-params';
import { tuneHeapGrowth } from '../common/heap-growth';
import { DataPlane, loadDataPlane } from '../wire/grpc-options';

const EXAMPLES = path.resolve(__dirname, '..', '..', __dirname.includes(`${path.sep}dist${path.sep}`) ? '..' : '', 'examples');

const SPEC: Record<string, OptionSpec> = {
  job: { type: 'string', describe: 'job spec YAML', default: path.join(EXAMPLES, 'synthetic-deepfm.yaml') },
  model: { type: 'string', describe: 'override model.kind: lr | fm | deepfm | widedeep | dcn' },
  data: { type: 'string', describe: 'training data file (overrides data.train)' },
  eval: { type: 'string', describe: 'evaluation data file (overrides data.eval)' },
  epochs: { type: 'string', describe: 'override training.epochs' },
  ps: { type: 'string', describe: 'comma-separated host:port of running PS processes; default: 2 in-process shards' },
  out: { type: 'string', describe: 'directory to save the trained model in (default tessera-model, unless --export-dir is given)' },
  'export-dir': { type: 'string', describe: 'model root: also (or, without --out, only) publish the model as the next version ROOT/<spec name>/<version>/' },
  backend: { type: 'string', describe: 'tfjs backend to prefer: tensorflow | webgpu | wasm | cpu [TESSERA_TF_BACKEND]' },
  'tf-threads': { type: 'string', describe: 'threads for the wasm backend\'s kernels: 1..8, or auto (the host\'s cores, at most 4); default 1 [TESSERA_TF_THREADS]' },
  'metrics-port': { type: 'string', describe: 'port for Prometheus GET /metrics on 127.0.0.1 (URL printed on stderr); 0 picks a free one', default: '0' },
  json: { type: 'boolean', describe: 'print the result as one JSON line on stdout (-o json is the same)' },
  'data-plane': { type: 'string', describe: 'what carries pulls and pushes (and serves them on the in-process PS): grpc-js, or gRPC framing directly on node:http2 (same protocol, less CPU per row; ADR 0038) (default http2) [TESSERA_DATA_PLANE]' },
  'data-thread': { type: 'boolean', describe: 'read, transform, pull and push on a thread of their own while the model computes on this one (also: training.data_thread in the spec)' },
};

export const TRAIN_HELP = helpText('tessera train [--job FILE] [--model NAME] [--data PATH] [--eval PATH] [--epochs E] [--ps host:port,…] [--out DIR] [--export-dir ROOT] [--json]',
  'Trains one worker against PS shards, evaluates on --eval after each epoch, and saves the\n'
  + 'model to --out (readable by `tessera eval --checkpoint DIR`). With --json the last line is\n'
  + '{"samples","samples_per_s","train_cpu_s","auc","logloss","model","backend","epochs"} (epochs trained: fewer than asked\n'
  + 'when training.early_stop ended the run; train_cpu_s: this process\'s CPU seconds, all threads, while training).', SPEC);

/** PS shards for the run: running processes (--ps) or in-process gRPC servers. */
async function connect(psArg: string | undefined, spec: JobSpec, dataPlane: DataPlane, logger: Logger, onStaleness: (u: Uint32Array) => void): Promise<{ client: PsClient; servers: PsServer[] }> {
  const servers = psArg ? [] : await Promise.all([0, 1].map(() => startPsServer({ port: 0, maxRequestBytes: 64 << 20, dataPlane, logger: logger.child({ role: 'ps' }) })));
  const addrs = psArg ? psArg.split(',').map((a) => a.trim()).filter(Boolean) : servers.map((s) => s.addr);
  const client = new PsClient({ shardMap: planShardMap(addrs.map((addr, id) => ({ id, addr }))), logger, ...trainingClientOptions(spec.training), dataPlane, onStaleness });
  await client.waitReady();
  await client.admin.installShardMap();
  return { client, servers };
}

/**
 * Trains epoch by epoch with progress on stderr, saves the model to `to.dir` and/or publishes it
 * as the next version under `to.exportRoot` (neither: ./tessera-model); the result's figures.
 */
async function trainAndSave(spec: JobSpec, client: PsClient, workerMetrics: WorkerMetrics, to: { dir?: string; exportRoot?: string; dataThread?: ReportedPushWindow; dataPlane: DataPlane }, logger: Logger) {
  const progress = new ProgressLine(process.stderr);
  const started = performance.now();
  const onStep = (s: StepInfo): void => {
    workerMetrics.onStep(s);
    progress.update(`step ${s.step}  samples ${s.samples}  ${(s.samples / ((performance.now() - started) / 1000)).toFixed(0)} samples/s  loss ${s.loss.toFixed(4)}`);
  };
  const { trainer, layout, model } = buildJob(spec, psParams(client), logger, onStep);
  await trainer.init();
  const run = await trainEpochs(trainer, spec, {
    // The thread's own PS client measures staleness and fills the push window: its figures feed the metrics.
    ...(to.dataThread ? { dataThread: {
      model, shardMap: client.data.map, dataPlane: to.dataPlane, onStep, logLevel: process.env.TESSERA_LOG_LEVEL ?? 'warn',
      onStaleness: (u: Uint32Array) => workerMetrics.onStaleness(u), onFigures: (f: PushWindowSource) => to.dataThread!.update(f),
    } } : {}),
    onTrained: (epoch, e, summary) => {
      checkTrainedRows(e.samples, spec.data.train as string, summary);
      progress.done(`epoch ${epoch + 1}: ${e.samples} samples, mean loss ${e.loss.toFixed(4)}; ${summary}`);
    },
    onEvaluated: (epoch, r) => {
      workerMetrics.onEval(r);
      process.stderr.write(`epoch ${epoch + 1} eval: AUC ${r.auc.toFixed(4)}  LogLoss ${r.logloss.toFixed(4)}  (${r.rows} rows)\n`);
    },
    onEarlyStop: (epochs, d) => process.stderr.write(`early stop after epoch ${epochs}: ${spec.training.earlyStop!.metric} best at epoch `
      + `${d.bestEpoch + 1} (${d.best.toFixed(4)}), no improvement for ${spec.training.earlyStop!.patience} epoch(s)\n`),
  });
  const last = run.evals[run.evals.length - 1];
  const exportRoot = to.exportRoot ? path.resolve(to.exportRoot) : undefined;
  const out = to.dir !== undefined || !exportRoot ? path.resolve(to.dir ?? 'tessera-model') : undefined;
  const saved = await saveTrainedModel(await modelContent(spec, layout, client, { step: run.steps, samples: run.samples }), { dir: out, exportRoot });
  if (out) process.stderr.write(`model saved to ${out}\n`);
  if (saved.version) process.stderr.write(`model version ${saved.version.version} published to ${saved.version.dir}\n`);
  const version = saved.version ? { model_version: saved.version.version, model_dir: saved.version.dir } : {};
  // samples/s over training time only (reading included), like the peer's figure.
  return {
    samples: run.samples, samples_per_s: run.samples / run.trainSeconds, train_cpu_s: run.trainCpuSeconds,
    auc: last?.auc ?? NaN, logloss: last?.logloss ?? NaN, model: out ?? saved.version!.dir, ...version, epochs: run.epochs,
  };
}

/**
 * An epoch that trained on no rows is an error (exit 2), since saving the untrained model would
 * pass it off as a result.
 */
function checkTrainedRows(samples: number, file: string, readerSummary: string): void {
  if (samples === 0) throw new TesseraError(ERROR_CODES.CONFIG, `training data has no rows: ${file} (${readerSummary}); give --data a file with training rows`);
}

export async function runTrain(argv: string[]): Promise<number> {
  const args = parseArgs(argv, SPEC);
  noPositional(args);
  const o = args.options as Record<string, string | undefined>;
  const logger = createLogger({ base: { role: 'worker' }, level: process.env.TESSERA_LOG_LEVEL ?? 'warn' });
  const spec = overrideSpec(loadJobSpec(o.job!), {
    model: o.model, train: o.data, eval: o.eval, epochs: o.epochs === undefined ? undefined : intOption(args, 'epochs', 1),
  });
  if (!spec.data.train) throw new TesseraError(ERROR_CODES.CONFIG, 'no training data: pass --data PATH or set data.train in the job spec');
  await checkDataFiles([spec.data.train], 'training data');
  await checkDataFiles(spec.data.eval ? [spec.data.eval] : [], 'evaluation data');
  checkEarlyStopEval(spec);
  const metricsPort = intOption(args, 'metrics-port', 0);
  const dataPlane = loadDataPlane(process.env, o['data-plane']);
  tuneHeapGrowth(process.env);
  const backend = await selectBackend(logger, o.backend ?? process.env.TESSERA_TF_BACKEND, { threads: tfThreads(o['tf-threads'] ?? process.env.TESSERA_TF_THREADS) });
  process.stderr.write(`tessera train: ${spec.model.kind} on ${spec.data.train}, tfjs backend ${backend.name}\n`);
  const { client, servers } = await connect(o.ps, spec, dataPlane, logger, (u) => workerMetrics.onStaleness(u));
  const metrics = createMetrics({ job: spec.name, role: 'worker', id: 'worker-0' }, { processMetrics: true });
  new BuildInfo(metrics.registry).setBackend(backend.name);
  // With --data-thread the PS client that pushes is the thread's: its reported figures are the ones to export.
  const threadPushes = args.options['data-thread'] === true || spec.training.dataThread ? new ReportedPushWindow() : undefined;
  const workerMetrics = new WorkerMetrics(metrics.registry, { pushes: threadPushes ?? client.data });
  const metricsHttp = await serveMetrics(metrics.registry, { port: metricsPort }).catch(async (err: unknown) => {
    client.close();
    await Promise.all(servers.map((s) => s.stop()));
    throw err;
  });
  process.stderr.write(`tessera train: metrics at ${metricsHttp.url}\n`);
  try {
    const r = await trainAndSave(spec, client, workerMetrics, { dir: o.out, exportRoot: o['export-dir'], dataThread: threadPushes, dataPlane }, logger);
    const result = { ...r, backend: backend.name };
    // The result on stdout: JSON with --json, else one line (logs and progress are on stderr).
    process.stdout.write(args.options.json ? `${JSON.stringify(result)}\n`
      : `trained: ${r.samples} samples at ${r.samples_per_s.toFixed(0)} samples/s; eval AUC ${r.auc.toFixed(4)}, LogLoss ${r.logloss.toFixed(4)}; model ${r.model}\n`);
    return 0;
  } finally {
    await metricsHttp.close();
    client.close();
    await Promise.all(servers.map((s) => s.stop()));
  }
}
