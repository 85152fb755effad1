/**
 * The worker's data path, free of transport and of the model: read rows, transform (parse, hash),
 * pull every table's rows (dedup, fan-out and stitch happen in the ParameterAccess), assemble the
 * model's inputs, and push each step's gradients. It runs on the data thread (data-thread.ts)
 * while the model computes on the main thread; the messages between the two are below.
 *
 * Order is the in-thread Trainer's, so a run trains exactly what it would: batch N+1's pulls are
 * issued once batch N−1's push has been handed to the push window, before the model computes
 * batch N; the dense weights are pulled after every `dense_sync_every`-th push and used from the
 * next step on. A `flush` from the main thread is answered once every push it sent before has
 * been applied, so a data position committed after it counts only applied rows.
 *
 * ```ts
 * const path = new DataPath({ spec, params, transformer, layout, port });
 * await path.run(reader.positionedBatches(spec.training.batchSize), () => ({ summary: reader.summary(), bad: 0 }));
 * ```
 */
import type { FeatureLayout, PulledRows } from '../infer/feature-layout';
import type { BatchInputs } from '../model/types';
import { DENSE_TABLE } from '../spec/job-tables';
import type { FeatureTransformer, TransformedBatch } from '../spec/transform';
import type { JobSpec } from '../spec/types';
import type { PositionedBatch, RowReaderOptions } from '../data/reader';
import type { ShardMap } from '../sharding/shard-map';
import type { ParameterAccess } from './param-access';

/** What the data thread reports of its reader and its push window with each batch and reply. */
export interface PathFigures {
  /** Malformed lines the current run's reader skipped so far. */
  bad: number;
  /** Steps whose pushes are in flight, and times a push waited for room (the PS client's). */
  inflightPushes: number;
  pushThrottles: number;
}

/**
 * A batch ready for the model, sent to the main thread; its arrays are transferred, not copied.
 * `next` is the reader's position after it (what a worker commits once the batch is applied).
 */
export interface BatchMessage { type: 'batch'; inputs: BatchInputs; next: number; figures: PathFigures }
/** Dense weights to use from the next step on (transferred). */
export interface DenseMessage { type: 'dense'; values: Float32Array }
/** Every batch was sent and every push applied; `summary` is the reader's (rows, bad lines). */
export interface EndMessage { type: 'end'; summary: string; figures: PathFigures }
/** Every push sent before the main thread's `flush` has been applied. */
export interface FlushedMessage { type: 'flushed'; figures: PathFigures }
/** Push staleness the PS client measured for one sampled push (transferred). */
export interface StalenessMessage { type: 'staleness'; updates: Uint32Array }
/** The PS refused the thread's shard map as old: it asks the main thread for the newest. */
export interface MapRequest { type: 'latest-map' }
/** The data path failed: one line, and the error code when it had one. */
export interface FailMessage { type: 'error'; message: string; code?: string }
/** What the data thread sends. */
export type FromDataThread = BatchMessage | DenseMessage | EndMessage | FlushedMessage | StalenessMessage | MapRequest | FailMessage;

/**
 * One step's gradients from the main thread (transferred), with the push window to keep (pushes
 * in flight; absent: the spec's); `stop` ends the run without pushing; `flush` asks for a
 * `flushed`; `run` starts a run over a file (range); `map` answers a `latest-map`.
 */
export type ToDataThread =
  | { type: 'grads'; embGrad: Float32Array; linearGrad: Float32Array; denseGrad: Float32Array; window?: number; positions?: Uint8Array }
  | { type: 'stop' }
  | { type: 'flush' }
  | { type: 'run'; path: string; reader: RowReaderOptions }
  | { type: 'map'; map: ShardMap | undefined };

/** How the data path talks to the main thread. */
export interface DataPathPort {
  post(msg: FromDataThread, transfer: ArrayBuffer[]): void;
  /** The main thread's next message. */
  next(): Promise<ToDataThread>;
}

/** What a DataPath works with. */
export interface DataPathDeps {
  spec: JobSpec;
  params: ParameterAccess;
  transformer: FeatureTransformer;
  layout: FeatureLayout;
  port: DataPathPort;
  /** The push window's figures (the PS client's); absent: zeros. */
  pushes?: { readonly inflightPushes?: number; readonly pushThrottles?: number };
  /** Told the push window each `grads` message asks for. */
  setWindow?: (pushesInFlight: number) => void;
  /** Takes the positions the main thread sent with a step's gradients, before the step is pushed (its tags carry them). */
  setPositions?: (positions: Uint8Array) => void;
}

interface Prepared { tb: TransformedBatch; next: number; pulled: Promise<PulledRows> }

/**
 * `a` itself when it spans its whole buffer, else a copy that does: transferring a view of a
 * larger buffer (a pooled Node Buffer under a decoded gRPC message) would detach the rest of it.
 */
export function owned<T extends Float32Array | Uint32Array>(a: T): T {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a : a.slice() as T;
}

/** `inputs` with arrays that own their buffers, and those buffers, to transfer with it. */
export function transferableInputs(inputs: BatchInputs): { inputs: BatchInputs; buffers: ArrayBuffer[] } {
  const out: BatchInputs = {
    ...inputs, emb: owned(inputs.emb), linear: owned(inputs.linear), dense: owned(inputs.dense),
    ...(inputs.labels ? { labels: owned(inputs.labels as Float32Array) } : {}),
  };
  const arrays = [out.emb, out.linear, out.dense, out.labels as Float32Array | undefined].filter((a): a is Float32Array => a !== undefined);
  return { inputs: out, buffers: [...new Set(arrays.map((a) => a.buffer as ArrayBuffer))] };
}

/** Reads, pulls and pushes for the model on another thread; see the file comment. */
export class DataPath {
  private step = 0;
  private bad: () => number = () => 0;
  /** The dense pull issued after the last synced push; awaited before the next push and at the end. */
  private densePull: Promise<void> = Promise.resolve();

  constructor(private readonly deps: DataPathDeps) {}

  /**
   * Runs over `batches`: sends the initial dense weights, then each batch, pushing its gradients;
   * ends with the reader's `stats()` (its summary line and malformed lines so far).
   */
  async run(batches: AsyncIterable<PositionedBatch>, stats: () => { summary: string; bad: number } = () => ({ summary: '', bad: 0 })): Promise<void> {
    const { params, port } = this.deps;
    this.bad = () => stats().bad;
    this.step = 0; // dense syncs count from each run's start, as the main thread's do
    this.sendDense(await params.pullDense(DENSE_TABLE));
    const it = nonEmpty(batches)[Symbol.asyncIterator]();
    let current = await this.prepareNext(it);
    let ahead = current === null ? null : await this.prepareNext(it);
    while (current !== null) {
      const { inputs, buffers } = transferableInputs(this.deps.layout.inputs(current.tb, await current.pulled));
      port.post({ type: 'batch', inputs, next: current.next, figures: this.figures() }, buffers);
      const msg = await this.nextReply();
      if (msg.type !== 'grads') break;
      await this.push(current, msg);
      current = ahead;
      ahead = current === null ? null : await this.prepareNext(it);
    }
    await this.densePull;
    await params.flush();
    port.post({ type: 'end', summary: stats().summary, figures: this.figures() }, []);
  }

  /** Applies every push sent so far and says so (the main thread commits a position after it). */
  async flush(): Promise<void> {
    await this.deps.params.flush();
    this.deps.port.post({ type: 'flushed', figures: this.figures() }, []);
  }

  /** The reader's and push window's figures now. */
  figures(): PathFigures {
    const p = this.deps.pushes;
    return { bad: this.bad(), inflightPushes: p?.inflightPushes ?? 0, pushThrottles: p?.pushThrottles ?? 0 };
  }

  /** The main thread's answer to a batch (grads or stop); flushes asked for meanwhile are served in order. */
  private async nextReply(): Promise<ToDataThread> {
    for (;;) {
      const m = await this.deps.port.next();
      if (m.type !== 'flush') return m;
      await this.flush();
    }
  }

  private async prepareNext(it: AsyncIterator<PositionedBatch>): Promise<Prepared | null> {
    const r = await it.next();
    if (r.done === true) return null;
    const { params, layout, transformer } = this.deps;
    const tb = transformer.transformBatch(r.value.rows);
    const sampled = params.sampleStaleness?.() === true;
    const pulled = layout.read(tb, (table, ids, dim, versions) => params.pull(table, ids, dim, versions ? { versions } : {}), sampled);
    pulled.catch(() => undefined); // awaited before the batch is sent; avoid an unhandled rejection meanwhile
    return { tb, next: r.value.next, pulled };
  }

  private async push(p: Prepared, g: Extract<ToDataThread, { type: 'grads' }>): Promise<void> {
    const { params, layout, spec } = this.deps;
    if (g.window !== undefined) this.deps.setWindow?.(g.window);
    if (g.positions !== undefined) this.deps.setPositions?.(g.positions);
    const sends = layout.gradients(p.tb, g.embGrad, g.linearGrad, (await p.pulled).versions);
    await this.densePull;
    // Transferred from the main thread, which keeps no view of it: it goes uncopied.
    await params.pushStep(sends, [{ table: DENSE_TABLE, grads: g.denseGrad, given: true }]);
    this.step++;
    // Issued now, sent when it lands: like the Trainer's, it overlaps the next batch's pulls.
    if (this.step % spec.training.denseSyncEvery === 0) this.densePull = params.pullDense(DENSE_TABLE).then((v) => this.sendDense(v));
  }

  private sendDense(values: Float32Array): void {
    const v = owned(values);
    this.deps.port.post({ type: 'dense', values: v }, [v.buffer as ArrayBuffer]);
  }
}

async function* nonEmpty(batches: AsyncIterable<PositionedBatch>): AsyncGenerator<PositionedBatch> {
  for await (const b of batches) if (b.rows.length > 0) yield b;
}
