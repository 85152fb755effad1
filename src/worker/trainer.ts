/**
 * The worker's training loop, free of transport: rows → features → pull → model → push.
 *
 * Per batch: hash/transform the rows, pull every table's rows (deduplicated and fanned out by
 * the ParameterAccess), run forward and backward, push sparse gradients without waiting (the
 * ParameterAccess bounds pushes in flight), and push the dense gradient. The next batch's pulls
 * are issued before the current batch computes (prefetch). Dense weights are re-pulled every
 * `dense_sync_every` steps. A non-finite loss stops training before anything is pushed. A
 * step the ParameterAccess samples for push staleness pulls its rows with their versions and
 * pushes them back with its gradients, so the PS can tell how stale they were.
 *
 * ```ts
 * const { transformer, model, layout } = buildModelParts(spec);
 * const trainer = new Trainer({ spec, params: psParams(client), model, transformer, layout, logger });
 * await trainer.init();
 * await trainer.trainEpoch(reader.batches(spec.training.batchSize));
 * const { auc } = await trainer.evaluate(evalReader.batches(4096));
 * ```
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { Logger } from '../common/logger';
import { EvalAccumulator, EvalResult } from '../eval/metrics';
import type { FeatureLayout, PulledRows } from '../infer/feature-layout';
import { DENSE_TABLE } from '../spec/job-tables';
import type { BatchInputs, CtrModel } from '../model/types';
import type { TableSpec } from '../ps/store/table-store';
import type { JobSpec } from '../spec/types';
import type { FeatureTransformer, RawRow, TransformedBatch } from '../spec/transform';
import type { ParameterAccess } from './param-access';
import { RowBuffers } from './row-buffers';


export interface TrainerDeps {
  spec: JobSpec;
  params: ParameterAccess;
  model: CtrModel;
  transformer: FeatureTransformer;
  /** How the transformer's batches meet the model (src/infer). */
  layout: FeatureLayout;
  logger: Logger;
  /** Called after each step with running figures (progress line, metrics). */
  onStep?: (s: StepInfo) => void;
}

export interface StepInfo {
  step: number;
  samples: number;
  loss: number;
  /** Where this step's time went, seconds: waiting for its pulls (and gathering the batch), in the model, waiting for room to push. */
  time?: StepTime;
}

/** One step's wall time split into waits on the PS and compute. */
export interface StepTime {
  pullWaitS: number;
  computeS: number;
  pushWaitS: number;
}

interface Prepared {
  /**
   * The raw rows, kept only for evaluation's `onScored`. Training drops them once transformed:
   * a prefetched batch's rows (about a thousand objects and 26 strings each) would otherwise
   * live through the young-generation collections of the step before it and be promoted.
   */
  rows: readonly RawRow[];
  tb: TransformedBatch;
  pulled: Promise<PulledRows>;
}

export class Trainer {
  private dense: Float32Array = new Float32Array(0);
  private densePull: Promise<Float32Array> | null = null;
  private stepNo = 0;
  private samples = 0;
  /**
   * Where training pulls its rows. Three batches deep: when a batch is prepared the one before
   * it may still be pulling and the one before that has finished its step (see `prefetch`).
   * New for each `trainEpoch`, so a pull left in flight by an epoch that failed never writes
   * into a later epoch's rows.
   */
  private rowBuffers = new RowBuffers(3);

  constructor(private readonly deps: TrainerDeps) {}

  get step(): number {
    return this.stepNo;
  }

  /** Creates every table (idempotent) and offers the model's initial dense weights. */
  async init(): Promise<void> {
    const { params, model } = this.deps;
    for (const t of this.tableSpecs()) await params.createTable(t);
    await params.createTable(this.deps.layout.denseSpec(model.denseSize));
    await params.assignDense(DENSE_TABLE, model.initialDense(), true);
    await this.attach();
  }

  /**
   * Joins tables someone else created (a cluster's chief): reads the dense weights, creates
   * nothing. A table that is missing fails the first pull instead of being created empty.
   */
  async attach(): Promise<void> {
    this.dense = await this.deps.params.pullDense(DENSE_TABLE);
  }

  /** The PS tables this job uses (embedding tables and their first-order companions). */
  tableSpecs(): TableSpec[] {
    return this.deps.layout.tableSpecs();
  }

  /**
   * Trains on every batch; returns samples seen and the mean loss. `afterStep` runs after each
   * step (its pushes issued, maybe not yet applied) and is awaited before the next step; a
   * worker commits its data position there. `beforePush` runs just before each step's push, with
   * the step's batch size: the worker says there where its data stands once the step is trained
   * (its pushes carry that). Pushes are flushed before this resolves.
   */
  async trainEpoch(batches: AsyncIterable<RawRow[]>, hooks: { afterStep?: (s: StepInfo & { size: number }) => Promise<void> | void; beforePush?: (size: number) => void } = {}): Promise<{ samples: number; loss: number; steps: number }> {
    let lossSum = 0;
    let n = 0;
    let steps = 0;
    this.rowBuffers = new RowBuffers(3);
    for await (const p of this.prefetch(batches, false)) {
      const loss = await this.trainOne(p, hooks.beforePush);
      lossSum += loss * p.tb.size;
      n += p.tb.size;
      steps++;
      if (hooks.afterStep) await hooks.afterStep({ step: this.stepNo, samples: this.samples, loss, size: p.tb.size });
    }
    await this.deps.params.flush();
    return { samples: n, loss: n ? lossSum / n : NaN, steps };
  }

  /**
   * Evaluates with read-only pulls: AUC, LogLoss, calibration. `onScored`, when given, sees each
   * batch's raw rows with their predictions (row i scored `probs[i]`) and is awaited before the
   * next batch; the batches must not reuse row objects (RowReader's default).
   */
  async evaluate(batches: AsyncIterable<RawRow[]>, onScored?: (rows: readonly RawRow[], probs: Float32Array) => void | Promise<void>): Promise<EvalResult> {
    await this.deps.params.flush();
    this.densePull = null;
    this.dense = await this.deps.params.pullDense(DENSE_TABLE);
    const acc = new EvalAccumulator();
    for await (const p of this.prefetch(batches, true)) {
      const probs = await this.deps.model.predict(this.dense, await this.inputs(p));
      acc.add(p.tb.labels, probs);
      if (onScored) await onScored(p.rows, probs);
    }
    return acc.result();
  }

  private async trainOne(p: Prepared, beforePush?: (size: number) => void): Promise<number> {
    const { params, model, spec } = this.deps;
    const t0 = performance.now();
    if (this.densePull) {
      this.dense = await this.densePull;
      this.densePull = null;
    }
    const inputs = await this.inputs(p);
    const t1 = performance.now();
    const r = await model.trainStep(this.dense, inputs);
    if (!Number.isFinite(r.loss)) {
      throw new TesseraError(ERROR_CODES.NON_FINITE, `loss is ${r.loss} at step ${this.stepNo} (batch of ${p.tb.size} rows after ${this.samples} samples); nothing from this batch was pushed`);
    }
    const sends = this.deps.layout.gradients(p.tb, r.embGrad, r.linearGrad, (await p.pulled).versions);
    const t3 = performance.now();
    beforePush?.(p.tb.size);
    // The step's gradients are its own and not read again here: the dense one goes uncopied.
    await params.pushStep(sends, [{ table: DENSE_TABLE, grads: r.denseGrad, given: true }]);
    const time = { pullWaitS: (t1 - t0) / 1000, computeS: (t3 - t1) / 1000, pushWaitS: (performance.now() - t3) / 1000 };
    if ((this.stepNo + 1) % spec.training.denseSyncEvery === 0) {
      // Issued now, awaited at the next step: the round trip overlaps the next batch's
      // preparation. With synchronous pushes it still starts after this step's push is applied.
      // Into the weights this step used, which nothing reads again before the pull lands (the
      // next step awaits it first): no step allocates its 1.3 MB (DeepFM). A pull dropped
      // unawaited (`evaluate`) writes into an array no one keeps.
      this.densePull = params.pullDense(DENSE_TABLE, this.dense);
      this.densePull.catch(() => undefined); // awaited next step; avoid an unhandled rejection meanwhile
    }
    this.stepNo++;
    this.samples += p.tb.size;
    this.deps.onStep?.({ step: this.stepNo, samples: this.samples, loss: r.loss, time });
    return r.loss;
  }

  /** Transforms batches and starts their pulls one batch ahead of the consumer. */
  private async *prefetch(batches: AsyncIterable<RawRow[]>, readOnly: boolean): AsyncGenerator<Prepared> {
    let ahead: Prepared | null = null;
    for await (const rows of batches) {
      if (rows.length === 0) continue;
      const next = this.prepare(rows, readOnly);
      if (ahead) yield ahead;
      ahead = next;
    }
    if (ahead) yield ahead;
  }

  private prepare(rows: RawRow[], readOnly: boolean): Prepared {
    const tb = this.deps.transformer.transformBatch(rows);
    const { params } = this.deps;
    const sampled = !readOnly && params.sampleStaleness?.() === true;
    // Training pulls into reused buffers (evaluation's few, larger batches allocate their own).
    const slot = readOnly ? undefined : this.rowBuffers.nextBatch();
    const pulled = this.deps.layout.read(tb, (table, ids, dim, versions) => params.pull(table, ids, dim, {
      readOnly, ...(versions ? { versions } : {}), ...(slot ? { out: slot.take(table, (ids.length >>> 1) * dim) } : {}),
    }), sampled);
    pulled.catch(() => undefined); // awaited by the consumer; avoid an unhandled rejection meanwhile
    return { rows: readOnly ? rows : [], tb, pulled };
  }

  private async inputs(p: Prepared): Promise<BatchInputs> {
    return this.deps.layout.inputs(p.tb, await p.pulled);
  }
}
