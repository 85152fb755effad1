/**
 * How a data shard's batches get trained, for shard-trainer.ts: on this thread by the Trainer
 * (`trainerSteps`), or with the data path on a thread of its own (`threadSteps`, over a
 * DataThreadSession). Both report each step with the reader's position after its batch, and
 * both flush: the shard trainer's commit rule (a position is committed only once every push of
 * the rows before it is applied) holds the same either way.
 *
 * ```ts
 * const steps = spec.training.dataThread ? threadSteps(session, model, { beforePush }) : trainerSteps(trainer, params, schema);
 * await steps.train({ path, reader: { range } }, { stopping, afterStep: (s) => commitAt(s.next) });
 * ```
 */
import { RowReader } from '../data/reader';
import type { RawRow, RowSchema } from '../data/record';
import type { CtrModel } from '../model/types';
import type { DataThreadSession, RunHooks, RunSource, RunStep } from './data-thread-session';
import type { ParameterAccess } from './param-access';
import type { StepInfo, Trainer } from './trainer';

/** What a shard run asks of its caller. */
export interface ShardRunHooks {
  /** Checked before each batch: true ends the run there (nothing more is trained). */
  stopping: () => boolean;
  /** After each step, awaited before the next: the worker commits its position here. */
  afterStep: (s: Pick<RunStep, 'size' | 'loss' | 'next'>) => Promise<void>;
  /** Just before each step's push, with where the reader will stand after it: the worker sets the positions its pushes carry. */
  beforePush?: (s: Pick<RunStep, 'size' | 'next'>) => void;
}

/** Trains runs of batches and flushes their pushes. */
export interface ShardSteps {
  /** Trains `source`'s batches; true when `stopping` ended it early. Every push is applied when it resolves. */
  train(source: RunSource, hooks: ShardRunHooks): Promise<{ stoppedEarly: boolean }>;
  /** Resolves once every push sent so far has been applied. */
  flush(): Promise<void>;
  /** Malformed lines the current run's reader skipped so far. */
  badLines(): number;
}

/** Steps on this thread: a RowReader feeding the Trainer. */
export function trainerSteps(trainer: Trainer, params: ParameterAccess, schema: RowSchema, batchSize: number): ShardSteps {
  let reader: RowReader | null = null;
  return {
    flush: () => params.flush(),
    badLines: () => reader?.stats().bad ?? 0,
    async train(source, hooks) {
      const r = (reader = new RowReader(source.path, schema, source.reader));
      const positions: number[] = [];
      let stoppedEarly = false;
      async function* batches(): AsyncGenerator<RawRow[]> {
        for await (const b of r.positionedBatches(batchSize)) {
          if (b.rows.length === 0) continue;
          if (hooks.stopping()) {
            stoppedEarly = true;
            return;
          }
          positions.push(b.next);
          yield b.rows;
        }
      }
      await trainer.trainEpoch(batches(), {
        afterStep: (s) => hooks.afterStep({ size: s.size, loss: s.loss, next: positions.shift()! }),
        // The step being pushed is the oldest one not yet through afterStep: positions[0].
        beforePush: hooks.beforePush && ((size) => hooks.beforePush!({ size, next: positions[0] })),
      });
      return { stoppedEarly };
    },
  };
}

/**
 * Steps with the data path on the session's thread; `window` (the job-wide push window) acts on
 * each step's gradients before the thread pushes them; `encodePositions` (after a run's
 * `beforePush` set them) goes with them, for the thread's tags.
 */
export function threadSteps(session: DataThreadSession, model: Pick<CtrModel, 'trainStep'>,
  hooks: Pick<RunHooks, 'window'> & { onStep?: (s: StepInfo) => void; encodePositions?: () => Uint8Array } = {}): ShardSteps {
  // Steps and samples count on across runs, as the Trainer's do across shards.
  const total = { steps: 0, samples: 0 };
  return {
    flush: () => session.flush(),
    badLines: () => session.badLines,
    async train(source, run) {
      const r = await session.train(source, model, {
        window: hooks.window, stopping: run.stopping, stepsBefore: total.steps, samplesBefore: total.samples,
        ...(run.beforePush && hooks.encodePositions ? { positions: (s: Pick<RunStep, 'size' | 'next'>) => { run.beforePush!(s); return hooks.encodePositions!(); } } : {}),
        afterStep: async (s) => {
          Object.assign(total, { steps: s.step, samples: s.samples });
          hooks.onStep?.(s);
          await run.afterStep(s);
        },
      });
      return { stoppedEarly: r.stoppedEarly };
    },
  };
}
