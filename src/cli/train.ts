/**
 * `tessera train`: one worker trains a job against in-process PS shards (real gRPC servers in
 * this process) or against running PS processes (--ps), evaluates, and saves the model.
 */
import * as path from 'path';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { createLogger, Logger } from '../common/logger';
import { RowReader } from '../data/reader';
import { schemaFor } from '../data/record';
import { selectBackend, tfThreads } from '../model/backend';
import { startPsServer, PsServer } from '../ps/ps-server';
import { planShardMap } from '../sharding/shard-map';
import { loadJobSpec } from '../spec/job-spec';
import { createMetrics } from '../metrics/registry';
import { serveMetrics } from '../metrics/http';
import { WorkerMetrics } from '../worker/worker-metrics';
import { BuildInfo } from '../metrics/build-info';
import type { JobSpec } from '../spec/types';
import { buildJob } from '../worker/job';
import { overrideSpec } from '../spec/overrides';
import { modelContent, saveTrainedModel } from '../worker/model-export';
import { PsClient } from '../client/ps-client';
import { helpText, intOption, OptionSpec, parseArgs } from '../runtime/args';
import { ProgressLine } from './progress';
import { psParams } from '../worker/ps-params';

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
  json: { type: 'boolean', describe: 'print a JSON summary as the last line' },
};

export const TRAIN_HELP = helpText('tessera train [--job FILE] [--model NAME] [--data PATH] [--eval PATH] [--epochs E] [--ps host:port,…] [--out DIR] [--export-dir ROOT] [--json]',
  'Trains one worker against PS shards, evaluates on --eval after each epoch, and saves the\n'
  + 'model to --out (readable by `tessera eval --checkpoint DIR`). With --json the last line is\n'
  + '{"samples","samples_per_s","auc","logloss","model","backend"}.', SPEC);

/** PS shards for the run: running processes (--ps) or in-process gRPC servers. */
async function connect(psArg: string | undefined, spec: JobSpec, logger: Logger, onStaleness: (u: Uint32Array) => void): Promise<{ client: PsClient; servers: PsServer[] }> {
  const servers = psArg ? [] : await Promise.all([0, 1].map(() => startPsServer({ port: 0, maxRequestBytes: 64 << 20, logger: logger.child({ role: 'ps' }) })));
  const addrs = psArg ? psArg.split(',').map((a) => a.trim()).filter(Boolean) : servers.map((s) => s.addr);
  const client = new PsClient({ shardMap: planShardMap(addrs.map((addr, id) => ({ id, addr }))), logger, maxInflightPushes: spec.training.maxInflightPushes, onStaleness });
  await client.waitReady();
  await client.admin.installShardMap();
  return { client, servers };
}

function reader(file: string, spec: JobSpec): RowReader {
  return new RowReader(file, schemaFor(spec.data.format), { maxErrorRate: spec.data.maxErrorRate });
}

/**
 * The rows an epoch trained on; none is an error (exit 2), since saving the untrained model
 * would pass it off as a result.
 */
function trainedRows(samples: number, file: string, r: RowReader): number {
  if (samples === 0) throw new TesseraError(ERROR_CODES.CONFIG, `training data has no rows: ${file} (${r.summary()}); give --data a file with training rows`);
  return samples;
}

export async function runTrain(argv: string[]): Promise<number> {
  const args = parseArgs(argv, SPEC);
  const o = args.options as Record<string, string | undefined>;
  const logger = createLogger({ base: { role: 'worker' }, level: process.env.TESSERA_LOG_LEVEL ?? 'warn' });
  const spec = overrideSpec(loadJobSpec(o.job!), {
    model: o.model, train: o.data, eval: o.eval, epochs: o.epochs === undefined ? undefined : intOption(args, 'epochs', 1),
  });
  if (!spec.data.train) throw new TesseraError(ERROR_CODES.CONFIG, 'no training data: pass --data PATH or set data.train in the job spec');
  const backend = await selectBackend(logger, o.backend ?? process.env.TESSERA_TF_BACKEND, { threads: tfThreads(o['tf-threads'] ?? process.env.TESSERA_TF_THREADS) });
  process.stderr.write(`tessera train: ${spec.model.kind} on ${spec.data.train}, tfjs backend ${backend.name}\n`);
  const metricsPort = intOption(args, 'metrics-port', 0);
  const { client, servers } = await connect(o.ps, spec, logger, (u) => workerMetrics.onStaleness(u));
  const metrics = createMetrics({ job: spec.name, role: 'worker', id: 'worker-0' }, { processMetrics: true });
  new BuildInfo(metrics.registry).setBackend(backend.name);
  const workerMetrics = new WorkerMetrics(metrics.registry, { pushes: client.data });
  const metricsHttp = await serveMetrics(metrics.registry, { port: metricsPort }).catch(async (err: unknown) => {
    client.close();
    await Promise.all(servers.map((s) => s.stop()));
    throw err;
  });
  process.stderr.write(`tessera train: metrics at ${metricsHttp.url}\n`);
  const progress = new ProgressLine(process.stderr);
  try {
    const started = performance.now();
    const { trainer, layout } = buildJob(spec, psParams(client), logger, (s) => {
      workerMetrics.onStep(s);
      progress.update(`step ${s.step}  samples ${s.samples}  ${(s.samples / ((performance.now() - started) / 1000)).toFixed(0)} samples/s  loss ${s.loss.toFixed(4)}`);
    });
    await trainer.init();
    let samples = 0;
    let trainSeconds = 0;
    let evalResult = { auc: NaN, logloss: NaN, rows: 0 };
    for (let epoch = 0; epoch < spec.training.epochs; epoch++) {
      const r = reader(spec.data.train, spec);
      const epochStart = performance.now();
      const e = await trainer.trainEpoch(r.batches(spec.training.batchSize));
      trainSeconds += (performance.now() - epochStart) / 1000; // training only (reading included), like the peer's figure
      samples += trainedRows(e.samples, spec.data.train, r);
      progress.done(`epoch ${epoch + 1}: ${e.samples} samples, mean loss ${e.loss.toFixed(4)}; ${r.summary()}`);
      if (spec.data.eval) {
        evalResult = await trainer.evaluate(reader(spec.data.eval, spec).batches(4096));
        workerMetrics.onEval(evalResult);
        process.stderr.write(`epoch ${epoch + 1} eval: AUC ${evalResult.auc.toFixed(4)}  LogLoss ${evalResult.logloss.toFixed(4)}  (${evalResult.rows} rows)\n`);
      }
    }
    const exportRoot = o['export-dir'] ? path.resolve(o['export-dir']) : undefined;
    const out = o.out !== undefined || !exportRoot ? path.resolve(o.out ?? 'tessera-model') : undefined;
    const saved = await saveTrainedModel(await modelContent(spec, layout, client, { step: trainer.step, samples }), { dir: out, exportRoot });
    if (out) process.stderr.write(`model saved to ${out}\n`);
    if (saved.version) process.stderr.write(`model version ${saved.version.version} published to ${saved.version.dir}\n`);
    if (args.options.json) {
      const version = saved.version ? { model_version: saved.version.version, model_dir: saved.version.dir } : {};
      process.stdout.write(`${JSON.stringify({ samples, samples_per_s: samples / trainSeconds, auc: evalResult.auc, logloss: evalResult.logloss, model: out ?? saved.version!.dir, ...version, backend: backend.name })}\n`);
    }
    return 0;
  } finally {
    await metricsHttp.close();
    client.close();
    await Promise.all(servers.map((s) => s.stop()));
  }
}
