/**
 * `tessera eval --checkpoint DIR --data PATH`: evaluates a saved model (tessera train --out) on a
 * data file in this process, through the same feature transform as training; optionally per
 * slice of raw field values (`--slice-by`), with grouped AUC (`--group-by`), and writing every
 * row's prediction (`--predictions`).
 */
import * as fs from 'node:fs';
import { createLogger } from '../common/logger';
import { RowReader } from '../data/reader';
import { schemaFor } from '../data/record';
import { SlicedEval } from '../eval/sliced-eval';
import { selectBackend } from '../model/backend';
import { rawFieldReader, RawValue } from '../spec/raw-fields';
import type { RawRow } from '../spec/transform';
import type { JobSpec } from '../spec/types';
import { buildJob } from '../worker/job';
import { isCheckpointPath, loadCheckpointModel } from '../worker/checkpoint-model';
import { loadModel } from '../export/model-dir';
import { LocalParams } from '../worker/local-params';
import { helpText, intOption, OptionSpec, parseArgs, ParsedArgs } from '../runtime/args';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { formatSliceReport } from './slice-table';

const SPEC: Record<string, OptionSpec> = {
  checkpoint: { type: 'string', describe: 'a checkpoint DIR/ID, a checkpoint root DIR (its latest), or a model directory written by tessera train --out' },
  data: { type: 'string', describe: 'data file to evaluate on (same format as training)' },
  batch: { type: 'string', describe: 'rows per batch', default: '4096' },
  'slice-by': { type: 'string', describe: 'FIELD[,FIELD…]: AUC, LogLoss, calibration and count per raw value of each field (and of their combination)' },
  'group-by': { type: 'string', describe: 'FIELD: grouped AUC, the impression-weighted mean of per-group AUC (groups with one class skipped)' },
  'top-k': { type: 'string', describe: 'slices listed per field, largest first; the rest are merged into "other"', default: '10' },
  predictions: { type: 'string', describe: 'FILE: write one "p<TAB>label" line per evaluated row' },
  json: { type: 'boolean', describe: 'print {"auc","logloss","rows","calibration"} (plus "slices", "gauc", "gauc_groups" when asked) as the last line' },
};

export const EVAL_HELP = helpText('tessera eval --checkpoint DIR[/ID] --data PATH [--slice-by FIELD[,FIELD…]] [--group-by FIELD] [--top-k N] [--predictions FILE] [--json]',
  'Computes AUC, LogLoss and calibration of a saved model on a labelled data file; per slice\n'
  + 'of raw field values (the job spec\'s field names, e.g. C6) and grouped AUC when asked.', SPEC);

/** Per-row work beside the overall metrics: slicing and the predictions file. */
interface RowSinks {
  sliced: SlicedEval | null;
  fields: ((row: RawRow) => Record<string, RawValue>) | null;
  predictionsFd: number | null;
}

export async function runEval(argv: string[]): Promise<number> {
  const args = parseArgs(argv, SPEC);
  const o = args.options as Record<string, string | undefined>;
  if (!o.checkpoint) throw new TesseraError(ERROR_CODES.CONFIG, '--checkpoint DIR is required');
  if (!o.data) throw new TesseraError(ERROR_CODES.CONFIG, '--data PATH is required');
  const loaded = isCheckpointPath(o.checkpoint)
    ? await loadCheckpointModel(o.checkpoint).then((m) => ({ spec: m.spec, params: m.params, manifest: { step: m.step } }))
    : await loadModel(o.checkpoint).then((m) => ({ spec: m.spec, params: new LocalParams(m.store), manifest: m.manifest }));
  const { spec, params, manifest } = loaded;
  const sinks = rowSinks(args, spec);
  const logger = createLogger({ base: { role: 'eval' }, level: process.env.TESSERA_LOG_LEVEL ?? 'warn' });
  await selectBackend(logger, process.env.TESSERA_TF_BACKEND);
  const { trainer } = buildJob(spec, params, logger);
  await trainer.init();
  const reader = new RowReader(o.data, schemaFor(spec.data.format), { maxErrorRate: spec.data.maxErrorRate });
  const r = await trainer.evaluate(reader.batches(Number(o.batch)), (rows, probs) => score(sinks, rows, probs));
  if (sinks.predictionsFd !== null) fs.closeSync(sinks.predictionsFd);
  process.stderr.write(`model ${o.checkpoint} (step ${manifest.step}) on ${o.data}: AUC ${r.auc.toFixed(4)}  LogLoss ${r.logloss.toFixed(4)}  calibration ${r.calibration.toFixed(3)}  rows ${r.rows}; ${reader.summary()}\n`);
  const report = sinks.sliced?.report();
  if (report && !args.options.json) process.stdout.write(`${formatSliceReport(report)}\n`);
  if (args.options.json) {
    const out: Record<string, unknown> = { auc: r.auc, logloss: r.logloss, rows: r.rows, calibration: r.calibration };
    if (report && o['slice-by'] !== undefined) out.slices = report.slicings;
    if (report?.gauc) {
      const { gauc, ...groups } = report.gauc;
      Object.assign(out, { gauc, gauc_groups: groups });
    }
    process.stdout.write(`${JSON.stringify(out)}\n`);
  }
  return 0;
}

/**
 * Checks --slice-by, --group-by, --top-k and --predictions before any row is read.
 * @throws TesseraError CONFIG naming an unknown field (with the spec's fields), a bad --top-k,
 *   or a predictions file that cannot be written
 */
function rowSinks(args: ParsedArgs, spec: JobSpec): RowSinks {
  const o = args.options as Record<string, string | undefined>;
  const sliceBy = (o['slice-by'] ?? '').split(',').map((f) => f.trim()).filter(Boolean);
  const groupBy = o['group-by']?.trim() || undefined;
  const schema = schemaFor(spec.data.format);
  const readSlices = rawFieldReader(spec, schema, sliceBy, '--slice-by');
  const readGroup = groupBy === undefined ? null : rawFieldReader(spec, schema, [groupBy], '--group-by');
  const topK = intOption(args, 'top-k', 1);
  const asked = sliceBy.length > 0 || groupBy !== undefined;
  let predictionsFd: number | null = null;
  if (o.predictions !== undefined) {
    try {
      predictionsFd = fs.openSync(o.predictions, 'w');
    } catch (err) {
      throw new TesseraError(ERROR_CODES.CONFIG, `--predictions: cannot write ${o.predictions}: ${(err as Error).message}`);
    }
  }
  return {
    sliced: asked ? new SlicedEval({ sliceBy, groupBy, topK }) : null,
    fields: asked ? (row) => (readGroup ? { ...readSlices(row), ...readGroup(row) } : readSlices(row)) : null,
    predictionsFd,
  };
}

/** Feeds one scored batch to the slices and the predictions file. */
function score(sinks: RowSinks, rows: readonly RawRow[], probs: Float32Array): void {
  const { sliced, fields, predictionsFd } = sinks;
  if (sliced && fields) for (let i = 0; i < rows.length; i++) sliced.add(fields(rows[i]), probs[i], rows[i].label);
  if (predictionsFd !== null) {
    let text = '';
    for (let i = 0; i < rows.length; i++) text += `${probs[i]}\t${rows[i].label}\n`;
    fs.writeSync(predictionsFd, text);
  }
}
