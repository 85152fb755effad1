/**
 * A cluster worker's connection to the PS of one shard map and tables generation, and how it
 * trains a data shard over it: on this thread (a Trainer over the PS client, behind the
 * checkpoint gate and the job-wide push window), or, with `training.data_thread`, with the data
 * path on a thread of its own (a DataThreadSession whose PS client is the thread's; the gate and
 * the push window act on each step's gradients before the thread pushes them). Stream jobs train
 * on this thread either way: their partitions are read through the main thread's stream log.
 *
 * ```ts
 * const conn = await openConnection({ spec, raw: () => connect(map, tables), ... }, 'file');
 * await trainShard({ steps: conn.steps, ... }, a, shard, committed);
 * conn.close();
 * ```
 */
import type { Logger } from '../common/logger';
import type { StepPositions } from '../control/step-positions';
import { buildModelParts } from '../infer/model-parts';
import { schemaFor } from '../data/record';
import type { JobSpec } from '../spec/types';
import type { DataThreadInit } from './data-thread';
import type { DataThreadSession } from './data-thread-session';
import { buildJob } from './job';
import { boundedPushes } from './job-push-window';
import type { WorkerParams } from './param-access';
import { ShardSteps, threadSteps, trainerSteps } from './shard-steps';
import type { StepInfo, Trainer } from './trainer';
import type { PushWindowSource } from './worker-metrics';

/** A worker's connection: its steps, its push-window figures, and on this thread its params and trainer. */
export interface WorkerConnection {
  steps: ShardSteps;
  pushes: PushWindowSource;
  /** Present when the data path runs on this thread (what a stream pass trains with). */
  inThread?: { params: WorkerParams; trainer: Trainer };
  /** False once it cannot train any more (its data thread failed): open a new one. */
  alive(): boolean;
  close(): void;
}

/** What a connection is built from. */
export interface WorkerConnectionDeps {
  spec: JobSpec;
  logger: Logger;
  /** A PS client on this thread (in-thread connections). */
  connect: () => WorkerParams;
  /** Starts a data thread for the connection's map and tables; absent: never threaded. */
  startDataThread?: (init: Pick<DataThreadInit, 'reads'>) => DataThreadSession;
  stopping: () => boolean;
  /** Pushes in flight this worker may keep now (the job-wide window's share). */
  pushWindow: () => number;
  onStep?: (s: StepInfo) => void;
  /** The positions a data thread's pushes carry (ADR 0040), sent with each step's gradients. */
  positions?: StepPositions;
}

/** True when this connection runs the data path on a thread of its own. */
export function threaded(deps: { spec: JobSpec; startDataThread?: unknown }, stream: boolean): boolean {
  return deps.spec.training.dataThread && deps.startDataThread !== undefined && !stream;
}

/** Opens a connection; an in-thread one has read the dense weights (the tables exist) before it resolves. */
export async function openConnection(deps: WorkerConnectionDeps, stream: boolean): Promise<WorkerConnection> {
  const { spec } = deps;
  if (threaded(deps, stream)) {
    const { model } = buildModelParts(spec);
    const session = deps.startDataThread!({ reads: model.reads });
    return {
      steps: threadSteps(session, model, {
        window: deps.pushWindow, onStep: deps.onStep,
        ...(deps.positions ? { encodePositions: () => deps.positions!.encode() } : {}),
      }),
      pushes: session,
      alive: () => session.alive,
      close: () => void session.close(),
    };
  }
  const raw = deps.connect();
  const params = boundedPushes(raw, deps.pushWindow);
  const { trainer } = buildJob(spec, params, deps.logger, deps.onStep);
  try {
    await trainer.attach();
  } catch (err) {
    params.close();
    throw err;
  }
  return {
    steps: trainerSteps(trainer, params, schemaFor(spec.data.format), spec.training.batchSize),
    pushes: { get inflightPushes() { return params.inflightPushes ?? 0; }, get pushThrottles() { return params.pushThrottles ?? 0; } },
    inThread: { params, trainer },
    alive: () => true,
    close: () => params.close(),
  };
}
