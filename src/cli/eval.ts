/**
 * `tessera eval --checkpoint DIR --data PATH`: evaluates a saved model (tessera train --out) on a
 * data file in this process, through the same feature transform as training.
 */
import { createLogger } from '../common/logger';
import { RowReader } from '../data/reader';
import { schemaFor } from '../data/record';
import { selectBackend } from '../model/backend';
import { buildJob } from '../worker/job';
import { isCheckpointPath, loadCheckpointModel } from '../worker/checkpoint-model';
import { loadModel } from '../worker/model-dir';
import { helpText, OptionSpec, parseArgs } from '../runtime/args';
import { ERROR_CODES, TesseraError } from '../common/errors';

const SPEC: Record<string, OptionSpec> = {
  checkpoint: { type: 'string', describe: 'a checkpoint DIR/ID, a checkpoint root DIR (its latest), or a model directory written by tessera train --out' },
  data: { type: 'string', describe: 'data file to evaluate on (same format as training)' },
  batch: { type: 'string', describe: 'rows per batch', default: '4096' },
  json: { type: 'boolean', describe: 'print {"auc","logloss","rows"} as the last line' },
};

export const EVAL_HELP = helpText('tessera eval --checkpoint DIR[/ID] --data PATH [--json]',
  'Computes AUC, LogLoss and calibration of a saved model on a labelled data file.', SPEC);

export async function runEval(argv: string[]): Promise<number> {
  const args = parseArgs(argv, SPEC);
  const o = args.options as Record<string, string | undefined>;
  if (!o.checkpoint) throw new TesseraError(ERROR_CODES.CONFIG, '--checkpoint DIR is required');
  if (!o.data) throw new TesseraError(ERROR_CODES.CONFIG, '--data PATH is required');
  const logger = createLogger({ base: { role: 'eval' }, level: process.env.TESSERA_LOG_LEVEL ?? 'warn' });
  await selectBackend(logger, process.env.TESSERA_TF_BACKEND);
  const loaded = isCheckpointPath(o.checkpoint)
    ? await loadCheckpointModel(o.checkpoint).then((m) => ({ spec: m.spec, params: m.params, manifest: { step: m.step } }))
    : loadModel(o.checkpoint);
  const { spec, params, manifest } = loaded;
  const { trainer } = buildJob(spec, params, logger);
  await trainer.init();
  const reader = new RowReader(o.data, schemaFor(spec.data.format), { maxErrorRate: spec.data.maxErrorRate });
  const r = await trainer.evaluate(reader.batches(Number(o.batch)));
  process.stderr.write(`model ${o.checkpoint} (step ${manifest.step}) on ${o.data}: AUC ${r.auc.toFixed(4)}  LogLoss ${r.logloss.toFixed(4)}  calibration ${r.calibration.toFixed(3)}  rows ${r.rows}; ${reader.summary()}\n`);
  if (args.options.json) process.stdout.write(`${JSON.stringify({ auc: r.auc, logloss: r.logloss, rows: r.rows, calibration: r.calibration })}\n`);
  return 0;
}
