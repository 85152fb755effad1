/**
 * The main thread's side of the data thread (data-thread.ts): it starts the thread, and for each
 * run over a file (range) the thread reads, transforms, pulls, stitches and pushes while this
 * thread only runs the model. Batches and gradients cross in transferred buffers (no copies).
 * While the model computes batch N the thread already pulls batch N+1, as the in-thread Trainer
 * does, so both train the same rows to the same numbers; what moves is the data path's CPU
 * (decoding, dedup, stitching, garbage) off the thread that runs the model.
 *
 * One session serves many runs (a cluster worker's data shards) over one PS connection. Each
 * batch comes with the reader's position after it; `flush()` resolves once every push sent
 * before it has been applied, so a position committed after it counts only applied rows. The
 * push-window and push-staleness figures of the thread's PS client come back with its messages.
 *
 * A failure on the data thread (an error, or the thread dying) rejects the run and every later
 * call with one TesseraError naming it, never a hang; the session is then dead (`alive` false).
 *
 * ```ts
 * const s = new DataThreadSession({ init: { spec, shardMap, reads: model.reads, logLevel: 'warn' } });
 * const r = await s.train({ path: 'train.tsv', reader: {} }, model, { afterStep: (st) => commitAt(st.next) });
 * await s.close();
 * ```
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { ERROR_CODES, ErrorCode, TesseraError } from '../common/errors';
import type { RowReaderOptions } from '../data/reader';
import type { BatchInputs, CtrModel } from '../model/types';
import type { ShardMap } from '../sharding/shard-map';
import type { BatchMessage, EndMessage, FromDataThread, PathFigures, ToDataThread } from './data-path';
import type { DataThreadInit } from './data-thread';
import type { StepInfo } from './trainer';

const DATA_THREAD_JS = path.join(__dirname, 'data-thread.js');

/** What a session works with. */
export interface DataThreadSessionDeps {
  init: DataThreadInit;
  /** Starts the data thread (default: a Worker on data-thread.js); tests start a failing one. */
  startThread?: (init: DataThreadInit) => Worker;
  /** Push staleness measured on the thread (the PS client's onStaleness). */
  onStaleness?: (updates: Uint32Array) => void;
  /** The newest published shard map, for a PS that refuses the thread's as old. */
  latestMap?: () => Promise<ShardMap | undefined>;
}

/** Where a run's rows come from: a file and the RowReader options of its range. */
export interface RunSource { path: string; reader: RowReaderOptions }

/** One trained step of a run, with the reader's position after its batch. */
export interface RunStep extends StepInfo { size: number; next: number }

/** How a run meets its caller. */
export interface RunHooks {
  /** Checked before each step: true ends the run there (that batch is neither trained nor pushed). */
  stopping?: () => boolean;
  /** Pushes in flight the thread may keep, read at each step (absent: the spec's). */
  window?: () => number;
  /** Before each step's gradients go to the thread: the positions its pushes carry (ADR 0040); absent: none. */
  positions?: (s: Pick<RunStep, 'size' | 'next'>) => Uint8Array;
  /** After each step (its gradients sent); awaited before the next step. */
  afterStep?: (s: RunStep) => Promise<void> | void;
  /** Steps and samples before this run, so StepInfo counts on across runs. */
  stepsBefore?: number;
  samplesBefore?: number;
}

/** What a run did, as Trainer.trainEpoch reports it, plus the reader's summary. */
export interface RunResult { samples: number; loss: number; steps: number; summary: string; stoppedEarly: boolean }

type Replies = { batch: BatchMessage | EndMessage; dense: Float32Array; flushed: PathFigures };

/** Messages from the data thread, split by kind; a failure rejects every wait, then and later. */
class Inbox {
  private readonly queues: { [K in keyof Replies]: Array<Replies[K]> } = { batch: [], dense: [], flushed: [] };
  private readonly waiters: { [K in keyof Replies]: Array<(v: Replies[K]) => void> } = { batch: [], dense: [], flushed: [] };
  failure: TesseraError | null = null;
  private readonly rejecters = new Set<(e: TesseraError) => void>();

  constructor(worker: Worker, other: (m: FromDataThread) => void) {
    worker.on('message', (m: FromDataThread) => {
      if (m.type === 'error') this.fail((m.code ?? ERROR_CODES.INTERNAL) as ErrorCode, m.message);
      else if (m.type === 'dense') this.deliver('dense', m.values);
      else if (m.type === 'flushed') this.deliver('flushed', m.figures);
      else if (m.type === 'batch' || m.type === 'end') this.deliver('batch', m);
      else other(m);
    });
    worker.on('error', (err) => this.fail(ERROR_CODES.INTERNAL, `data thread crashed: ${String(err?.message ?? err).split('\n')[0]}`));
    worker.on('exit', (code) => this.fail(ERROR_CODES.INTERNAL, `data thread exited (code ${code}) before the epoch ended`));
  }

  deliver<K extends keyof Replies>(kind: K, v: Replies[K]): void {
    const w = this.waiters[kind].shift();
    if (w) w(v);
    else this.queues[kind].push(v);
  }

  wait<K extends keyof Replies>(kind: K): Promise<Replies[K]> {
    const queued = this.queues[kind];
    if (queued.length > 0) return Promise.resolve(queued.shift()!);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<Replies[K]>((resolve, reject) => {
      const rejecter = (e: TesseraError): void => reject(e);
      this.rejecters.add(rejecter);
      this.waiters[kind].push((v) => { this.rejecters.delete(rejecter); resolve(v); });
    });
  }

  /** Drops what is queued of `kind` (replies nobody will ask for). */
  clear(kind: keyof Replies): void {
    this.queues[kind].length = 0;
  }

  /** The first failure wins. */
  fail(code: ErrorCode, message: string): void {
    if (this.failure) return;
    this.failure = new TesseraError(code, message);
    for (const r of this.rejecters) r(this.failure);
    this.rejecters.clear();
  }
}

/** A data thread serving runs for one PS connection; see the file comment. */
export class DataThreadSession {
  /** Steps whose pushes the thread's PS client has in flight, and push-window waits (as last reported). */
  inflightPushes = 0;
  pushThrottles = 0;
  /** Malformed lines the current run's reader skipped (as last reported). */
  badLines = 0;
  private readonly worker: Worker;
  private readonly inbox: Inbox;
  private closed = false;

  constructor(private readonly deps: DataThreadSessionDeps) {
    this.worker = (deps.startThread ?? ((i) => new Worker(DATA_THREAD_JS, { workerData: i })))(deps.init);
    this.inbox = new Inbox(this.worker, (m) => this.other(m));
  }

  /** False once the thread failed or the session was closed: start a new one. */
  get alive(): boolean {
    return !this.closed && this.inbox.failure === null;
  }

  /** Trains `model` over `source`'s batches; see RunHooks. Resolves once every push of the run is applied. */
  async train(source: RunSource, model: Pick<CtrModel, 'trainStep'>, hooks: RunHooks = {}): Promise<RunResult> {
    const { spec } = this.deps.init;
    this.send({ type: 'run', path: source.path, reader: source.reader });
    const acc = { lossSum: 0, samples: 0, steps: 0, stepsBefore: hooks.stepsBefore ?? 0, samplesBefore: hooks.samplesBefore ?? 0 };
    let ended = false;
    try {
      let dense = await this.inbox.wait('dense');
      for (;;) {
        const t0 = performance.now();
        const m = await this.inbox.wait('batch');
        this.noteFigures(m.figures);
        if (m.type === 'end') {
          ended = true;
          this.ranOut();
          return { samples: acc.samples, loss: acc.samples ? acc.lossSum / acc.samples : NaN, steps: acc.steps, summary: m.summary, stoppedEarly: false };
        }
        if (hooks.stopping?.()) {
          await this.endRun();
          ended = true;
          return { samples: acc.samples, loss: acc.samples ? acc.lossSum / acc.samples : NaN, steps: acc.steps, summary: '', stoppedEarly: true };
        }
        if (acc.steps > 0 && acc.steps % spec.training.denseSyncEvery === 0) dense = await this.inbox.wait('dense');
        const s = await this.step(model, dense, m, hooks, acc, t0);
        await hooks.afterStep?.(s);
      }
    } finally {
      if (!ended) await this.endRun().catch(() => undefined);
    }
  }

  /** Resolves once every push sent so far has been applied. */
  async flush(): Promise<void> {
    this.send({ type: 'flush' });
    this.noteFigures(await this.inbox.wait('flushed'));
  }

  /** Stops the thread (its PS client closes with it). */
  async close(): Promise<void> {
    this.closed = true;
    await this.worker.terminate();
  }

  /** One model step; its gradients go to the thread (transferred). */
  private async step(model: Pick<CtrModel, 'trainStep'>, dense: Float32Array, m: BatchMessage, hooks: RunHooks,
    acc: { lossSum: number; samples: number; steps: number; stepsBefore: number; samplesBefore: number }, t0: number): Promise<RunStep> {
    const inputs: BatchInputs = m.inputs;
    const t1 = performance.now();
    const r = await model.trainStep(dense, inputs);
    if (!Number.isFinite(r.loss)) {
      throw new TesseraError(ERROR_CODES.NON_FINITE, `loss is ${r.loss} at step ${acc.stepsBefore + acc.steps} (batch of ${inputs.batch} rows after ${acc.samplesBefore + acc.samples} samples); nothing from this batch was pushed`);
    }
    const t2 = performance.now();
    const positions = hooks.positions?.({ size: inputs.batch, next: m.next });
    this.send({ type: 'grads', embGrad: r.embGrad, linearGrad: r.linearGrad, denseGrad: r.denseGrad, ...(hooks.window ? { window: hooks.window() } : {}), ...(positions ? { positions } : {}) },
      [r.embGrad.buffer as ArrayBuffer, r.linearGrad.buffer as ArrayBuffer, r.denseGrad.buffer as ArrayBuffer]);
    acc.lossSum += r.loss * inputs.batch;
    acc.samples += inputs.batch;
    acc.steps++;
    const time = { pullWaitS: (t1 - t0) / 1000, computeS: (t2 - t1) / 1000, pushWaitS: (performance.now() - t2) / 1000 };
    return { step: acc.stepsBefore + acc.steps, samples: acc.samplesBefore + acc.samples, loss: r.loss, time, size: inputs.batch, next: m.next };
  }

  /** Ends the current run without pushing its pending batch; resolves at the thread's `end` (its pushes applied). */
  private async endRun(): Promise<void> {
    if (!this.alive) return;
    this.send({ type: 'stop' });
    for (;;) {
      const m = await this.inbox.wait('batch');
      this.noteFigures(m.figures);
      if (m.type === 'end') return this.ranOut();
    }
  }

  /**
   * A run ended: the dense weights its thread pulled after the last push (sent before `end`) are
   * no step's; the next run starts from the ones its thread pulls first. Without this the next
   * run would use each dense one step late (issue 18: lower AUC with 2 workers).
   */
  private ranOut(): void {
    this.inbox.clear('dense');
  }

  private send(m: ToDataThread, transfer: ArrayBuffer[] = []): void {
    if (this.inbox.failure) throw this.inbox.failure;
    this.worker.postMessage(m, transfer);
  }

  private noteFigures(f: PathFigures): void {
    this.badLines = f.bad;
    this.inflightPushes = f.inflightPushes;
    this.pushThrottles = f.pushThrottles;
  }

  private other(m: FromDataThread): void {
    if (m.type === 'staleness') this.deps.onStaleness?.(m.updates);
    if (m.type === 'latest-map') {
      void (this.deps.latestMap?.() ?? Promise.resolve(undefined)).then((map) => this.worker.postMessage({ type: 'map', map } satisfies ToDataThread),
        () => this.worker.postMessage({ type: 'map', map: undefined } satisfies ToDataThread));
    }
  }
}
