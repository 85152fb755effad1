/**
 * One training epoch of `tessera train` with the data path on its own thread: a
 * DataThreadSession (data-thread-session.ts) started for the epoch, one run over the whole
 * training file, and the thread stopped. The in-thread Trainer and this train the same rows to
 * the same numbers.
 *
 * ```ts
 * const e = await trainEpochThreaded({ spec, model, shardMap: client.data.map, file: 'train.tsv' });
 * ```
 */
import type { CtrModel } from '../model/types';
import type { ShardMap } from '../sharding/shard-map';
import type { JobSpec } from '../spec/types';
import type { DataThreadInit } from './data-thread';
import { DataThreadSession, DataThreadSessionDeps } from './data-thread-session';
import type { PathFigures } from './data-path';
import type { StepInfo } from './trainer';

/** What one threaded epoch works with. */
export interface ThreadedEpochDeps extends Pick<DataThreadSessionDeps, 'startThread' | 'onStaleness'> {
  spec: JobSpec;
  model: Pick<CtrModel, 'trainStep' | 'reads'>;
  shardMap: ShardMap;
  /** The training file this epoch reads. */
  file: string;
  /** What carries the thread's pulls and pushes (default grpc-js, as a PsClient's). */
  dataPlane?: DataThreadInit['dataPlane'];
  /** pino level of the data thread's logger (default warn). */
  logLevel?: string;
  /** One training step in this many measures push staleness (the PS client's default when absent). */
  stalenessSampleEvery?: number;
  /** Steps and samples before this epoch, so StepInfo counts on across epochs. */
  stepsBefore?: number;
  samplesBefore?: number;
  onStep?: (s: StepInfo) => void;
  /** Told the thread's push-window figures after each step (metrics read them). */
  onFigures?: (f: Omit<PathFigures, 'bad'>) => void;
}

/** What a threaded epoch did, as Trainer.trainEpoch reports it, plus the reader's summary. */
export interface ThreadedEpochResult { samples: number; loss: number; steps: number; summary: string }

/** Trains one epoch over `deps.file` with the data path on its own thread; see the file comment. */
export async function trainEpochThreaded(deps: ThreadedEpochDeps): Promise<ThreadedEpochResult> {
  const init: DataThreadInit = {
    spec: deps.spec, shardMap: deps.shardMap, reads: deps.model.reads, logLevel: deps.logLevel ?? 'warn',
    ...(deps.stalenessSampleEvery !== undefined ? { stalenessSampleEvery: deps.stalenessSampleEvery } : {}),
    ...(deps.dataPlane !== undefined ? { dataPlane: deps.dataPlane } : {}),
  };
  const session = new DataThreadSession({ init, startThread: deps.startThread, onStaleness: deps.onStaleness });
  try {
    const r = await session.train({ path: deps.file, reader: { maxErrorRate: deps.spec.data.maxErrorRate } }, deps.model, {
      stepsBefore: deps.stepsBefore, samplesBefore: deps.samplesBefore,
      afterStep: (s) => {
        deps.onFigures?.({ inflightPushes: session.inflightPushes, pushThrottles: session.pushThrottles });
        deps.onStep?.(s);
      },
    });
    return { samples: r.samples, loss: r.loss, steps: r.steps, summary: r.summary };
  } finally {
    await session.close();
  }
}
