/**
 * One training epoch with the data path on its own thread: a `worker_threads` Worker
 * (data-thread.ts) reads, transforms, pulls, stitches and pushes, and this thread only runs the
 * model. Batches and gradients cross in transferred buffers (no copies). While the model
 * computes batch N the data thread already pulls batch N+1, exactly as the in-thread Trainer
 * does, so both train the same rows to the same numbers; what moves is the data path's CPU
 * (decoding, dedup, stitching, garbage) off the thread that runs the model.
 *
 * A failure on the data thread (an error, or the thread dying) rejects the epoch with one
 * TesseraError naming it, never a hang.
 *
 * ```ts
 * const e = await trainEpochThreaded({ spec, model, shardMap: client.data.map, file: 'train.tsv' });
 * ```
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { ERROR_CODES, ErrorCode, TesseraError } from '../common/errors';
import type { BatchInputs, CtrModel } from '../model/types';
import type { ShardMap } from '../sharding/shard-map';
import type { JobSpec } from '../spec/types';
import type { FromDataThread, ToDataThread } from './data-path';
import type { DataThreadInit } from './data-thread';
import type { StepInfo } from './trainer';

/** What one threaded epoch works with. */
export interface ThreadedEpochDeps {
  spec: JobSpec;
  model: Pick<CtrModel, 'trainStep' | 'reads'>;
  shardMap: ShardMap;
  /** The training file this epoch reads. */
  file: string;
  /** pino level of the data thread's logger (default warn). */
  logLevel?: string;
  /** Steps and samples before this epoch, so StepInfo counts on across epochs. */
  stepsBefore?: number;
  samplesBefore?: number;
  onStep?: (s: StepInfo) => void;
  /** Starts the data thread (default: a Worker on data-thread.js); tests start a failing one. */
  startThread?: (init: DataThreadInit) => Worker;
}

/** What a threaded epoch did, as Trainer.trainEpoch reports it, plus the reader's summary. */
export interface ThreadedEpochResult { samples: number; loss: number; steps: number; summary: string }

const DATA_THREAD_JS = path.join(__dirname, 'data-thread.js');

/** Messages from the data thread, split by kind; a failure rejects every wait. */
class Inbox {
  private readonly queues = { batch: [] as FromDataThread[], dense: [] as Float32Array[] };
  private readonly waiters = { batch: [] as Array<(m: FromDataThread) => void>, dense: [] as Array<(v: Float32Array) => void> };
  private failure: TesseraError | null = null;
  private readonly rejecters = new Set<(e: TesseraError) => void>();

  constructor(worker: Worker) {
    worker.on('message', (m: FromDataThread) => {
      if (m.type === 'error') this.fail((m.code ?? ERROR_CODES.INTERNAL) as ErrorCode, m.message);
      else if (m.type === 'dense') this.deliver('dense', m.values);
      else this.deliver('batch', m);
    });
    worker.on('error', (err) => this.fail(ERROR_CODES.INTERNAL, `data thread crashed: ${String(err?.message ?? err).split('\n')[0]}`));
    worker.on('exit', (code) => this.fail(ERROR_CODES.INTERNAL, `data thread exited (code ${code}) before the epoch ended`));
  }

  batch(): Promise<FromDataThread> {
    return this.wait('batch');
  }

  dense(): Promise<Float32Array> {
    return this.wait('dense');
  }

  private deliver<K extends 'batch' | 'dense'>(kind: K, v: K extends 'batch' ? FromDataThread : Float32Array): void {
    const w = this.waiters[kind].shift() as ((x: typeof v) => void) | undefined;
    if (w) w(v);
    else (this.queues[kind] as Array<typeof v>).push(v);
  }

  private wait<K extends 'batch' | 'dense'>(kind: K): Promise<K extends 'batch' ? FromDataThread : Float32Array> {
    type V = K extends 'batch' ? FromDataThread : Float32Array;
    const queued = this.queues[kind] as V[];
    if (queued.length > 0) return Promise.resolve(queued.shift()!);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<V>((resolve, reject) => {
      const rejecter = (e: TesseraError): void => reject(e);
      this.rejecters.add(rejecter);
      (this.waiters[kind] as Array<(v: V) => void>).push((v) => { this.rejecters.delete(rejecter); resolve(v); });
    });
  }

  /** The first failure wins; a normal exit after 'end' is not one (nobody waits any more). */
  private fail(code: ErrorCode, message: string): void {
    if (this.failure) return;
    this.failure = new TesseraError(code, message);
    for (const r of this.rejecters) r(this.failure);
    this.rejecters.clear();
  }
}

/** Trains one epoch over `deps.file` with the data path on its own thread; see the file comment. */
export async function trainEpochThreaded(deps: ThreadedEpochDeps): Promise<ThreadedEpochResult> {
  const { spec, model } = deps;
  const init: DataThreadInit = { spec, file: deps.file, shardMap: deps.shardMap, reads: model.reads, logLevel: deps.logLevel ?? 'warn' };
  const worker = (deps.startThread ?? ((i) => new Worker(DATA_THREAD_JS, { workerData: i })))(init);
  const inbox = new Inbox(worker);
  const send = (m: ToDataThread, transfer: ArrayBuffer[] = []): void => worker.postMessage(m, transfer);
  let lossSum = 0;
  let samples = 0;
  let steps = 0;
  try {
    let dense = await inbox.dense();
    for (;;) {
      const m = await inbox.batch();
      if (m.type === 'end') return { samples, loss: samples ? lossSum / samples : NaN, steps, summary: m.summary };
      if (m.type !== 'batch') continue;
      if (steps > 0 && steps % spec.training.denseSyncEvery === 0) dense = await inbox.dense();
      const loss = await step(deps, dense, m.inputs, send, (deps.stepsBefore ?? 0) + steps, (deps.samplesBefore ?? 0) + samples);
      lossSum += loss * m.inputs.batch;
      samples += m.inputs.batch;
      steps++;
      deps.onStep?.({ step: (deps.stepsBefore ?? 0) + steps, samples: (deps.samplesBefore ?? 0) + samples, loss });
    }
  } finally {
    await worker.terminate();
  }
}

/** One model step; its gradients go back to the data thread (transferred). */
async function step(deps: ThreadedEpochDeps, dense: Float32Array, inputs: BatchInputs, send: (m: ToDataThread, t?: ArrayBuffer[]) => void,
  stepNo: number, samplesBefore: number): Promise<number> {
  const r = await deps.model.trainStep(dense, inputs);
  if (!Number.isFinite(r.loss)) {
    send({ type: 'stop' });
    throw new TesseraError(ERROR_CODES.NON_FINITE, `loss is ${r.loss} at step ${stepNo} (batch of ${inputs.batch} rows after ${samplesBefore} samples); nothing from this batch was pushed`);
  }
  send({ type: 'grads', embGrad: r.embGrad, linearGrad: r.linearGrad, denseGrad: r.denseGrad },
    [r.embGrad.buffer as ArrayBuffer, r.linearGrad.buffer as ArrayBuffer, r.denseGrad.buffer as ArrayBuffer]);
  return r.loss;
}
