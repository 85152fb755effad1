/**
 * The epoch loop of one worker training alone (`tessera train`, bench:quality): train an epoch
 * over the whole training file, evaluate on the eval file, and stop early when the spec's
 * `training.early_stop` says the eval metric has stopped improving.
 */
import { RowReader } from '../data/reader';
import { schemaFor } from '../data/record';
import { earlyStopDecision } from '../eval/early-stopping';
import type { EarlyStopDecision } from '../eval/early-stopping';
import type { EvalResult } from '../eval/metrics';
import type { JobSpec } from '../spec/types';
import type { ThreadedEpochDeps } from './threaded-epoch';
import { trainEpochThreaded } from './threaded-epoch';
import type { Trainer } from './trainer';

/** Rows per evaluation batch. */
export const EVAL_BATCH_ROWS = 4096;

/** What the loop reports as it goes. */
export interface EpochLoopHooks {
  /** After epoch `epoch` (0-based) trained, with its reader's summary line. */
  onTrained?(epoch: number, e: { samples: number; loss: number }, readerSummary: string): void;
  onEvaluated?(epoch: number, r: EvalResult): void;
  /** Training ends early after `epochs` epochs. */
  onEarlyStop?(epochs: number, d: EarlyStopDecision): void;
  /**
   * Run each epoch's data path (read, transform, pull, push) on its own thread
   * (threaded-epoch.ts), with these parts; absent: the Trainer's own loop on this thread.
   */
  dataThread?: Pick<ThreadedEpochDeps, 'model' | 'shardMap' | 'dataPlane' | 'onStep' | 'logLevel' | 'onStaleness' | 'onFigures' | 'stalenessSampleEvery'>;
}

/** What the loop did. */
export interface EpochLoopResult {
  /** Training rows consumed, all epochs. */
  samples: number;
  /** Training time (reading included; evaluation not), seconds. */
  trainSeconds: number;
  /** CPU time of this process (every thread) over the same training time, seconds. */
  trainCpuSeconds: number;
  /** Epochs trained (fewer than `training.epochs` after an early stop). */
  epochs: number;
  /** Training steps, all epochs. */
  steps: number;
  /** One evaluation per epoch, when the spec has eval data. */
  evals: EvalResult[];
}

function reader(file: string, spec: JobSpec): RowReader {
  return new RowReader(file, schemaFor(spec.data.format), { maxErrorRate: spec.data.maxErrorRate });
}

/**
 * Trains `spec.training.epochs` epochs on `spec.data.train`, evaluating `spec.data.eval` after
 * each (when set) and stopping early per `spec.training.early_stop`.
 *
 * ```ts
 * const r = await trainEpochs(trainer, spec, { onEvaluated: (e, ev) => console.log(e, ev.auc) });
 * ```
 */
export async function trainEpochs(trainer: Trainer, spec: JobSpec, hooks: EpochLoopHooks = {}): Promise<EpochLoopResult> {
  const out: EpochLoopResult = { samples: 0, trainSeconds: 0, trainCpuSeconds: 0, epochs: 0, steps: 0, evals: [] };
  const train = spec.data.train as string;
  for (let epoch = 0; epoch < spec.training.epochs; epoch++) {
    const started = performance.now();
    const cpu = process.cpuUsage();
    const e = await trainOneEpoch(trainer, spec, train, hooks.dataThread, out);
    out.trainSeconds += (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    out.trainCpuSeconds += (used.user + used.system) / 1e6;
    out.samples += e.samples;
    out.steps += e.steps;
    out.epochs = epoch + 1;
    hooks.onTrained?.(epoch, e, e.summary);
    if (!spec.data.eval) continue;
    const ev = await trainer.evaluate(reader(spec.data.eval, spec).batches(EVAL_BATCH_ROWS));
    out.evals.push(ev);
    hooks.onEvaluated?.(epoch, ev);
    const early = spec.training.earlyStop ? earlyStopDecision(spec.training.earlyStop, out.evals) : undefined;
    if (early?.stop && out.epochs < spec.training.epochs) {
      hooks.onEarlyStop?.(out.epochs, early);
      break;
    }
  }
  return out;
}

/** One epoch over `file`, on this thread or with the data path on its own; the reader's summary with it. */
async function trainOneEpoch(trainer: Trainer, spec: JobSpec, file: string, thread: EpochLoopHooks['dataThread'], before: EpochLoopResult) {
  if (thread) return trainEpochThreaded({ spec, file, ...thread, stepsBefore: before.steps, samplesBefore: before.samples });
  const r = reader(file, spec);
  const e = await trainer.trainEpoch(r.batches(spec.training.batchSize));
  return { ...e, summary: r.summary() };
}
