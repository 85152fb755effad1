/**
 * The worker's training loop, free of transport: rows → features → pull → model → push.
 *
 * Per batch: hash/transform the rows, pull every table's rows (deduplicated and fanned out by
 * the ParameterAccess), run forward and backward, push sparse gradients without waiting (the
 * ParameterAccess bounds pushes in flight), and push the dense gradient. The next batch's pulls
 * are issued before the current batch computes (prefetch). Dense weights are re-pulled every
 * `dense_sync_every` steps. A non-finite loss stops training before anything is pushed.
 *
 * ```ts
 * const trainer = new Trainer({ spec, params: psClient, model, transformer, logger });
 * await trainer.init();
 * await trainer.trainEpoch(reader.batches(spec.training.batchSize));
 * const { auc } = await trainer.evaluate(evalReader.batches(4096));
 * ```
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { Logger } from '../common/logger';
import { EvalAccumulator, EvalResult } from '../eval/metrics';
import type { CtrModel, BatchInputs } from '../model/types';
import type { TableSpec } from '../ps/store/table-store';
import { embeddingTableSpecs } from '../spec/ps-config';
import type { JobSpec } from '../spec/types';
import type { FeatureTransformer, RawRow, TransformedBatch } from '../spec/transform';
import { gatherTable, maskOf, planSlots, presentOnly, scatterTable, TableSlot } from './batch-assembler';
import type { ParameterAccess } from './param-access';

/** Name of the PS dense table holding the model's dense parameters. */
export const DENSE_TABLE = 'dense';

/** Name of the dim-1 first-order companion of embedding table `t`. */
export function linearTableOf(t: string): string {
  return `${t}.linear`;
}

export interface TrainerDeps {
  spec: JobSpec;
  params: ParameterAccess;
  model: CtrModel;
  transformer: FeatureTransformer;
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
  rows: RawRow[];
  tb: TransformedBatch;
  pulled: Promise<{ emb: Float32Array[]; linear: Float32Array[] }>;
}

export class Trainer {
  readonly slots: TableSlot[];
  readonly numFields: number;
  private readonly dim: number;
  private readonly embTables: boolean;
  private readonly linTables: boolean;
  private dense: Float32Array = new Float32Array(0);
  private densePull: Promise<Float32Array> | null = null;
  private stepNo = 0;
  private samples = 0;

  constructor(private readonly deps: TrainerDeps) {
    const { spec, model, transformer } = deps;
    const plan = planSlots(spec.features.tables.map((t) => t.name), transformer.fieldsPerTable);
    this.slots = plan.slots;
    this.numFields = plan.numFields;
    const dims = new Set(spec.features.tables.filter((t) => plan.slots.some((s) => s.name === t.name)).map((t) => t.dim));
    if (model.reads.emb && dims.size > 1) {
      throw new TesseraError(ERROR_CODES.CONFIG, `features.tables: model ${spec.model.kind} is trained with one embedding dim for all tables; got dims ${[...dims].join(', ')}`);
    }
    this.dim = [...dims][0] ?? 1;
    this.embTables = model.reads.emb;
    // LR reads only first-order weights: its (dim-1) tables are those weights themselves.
    this.linTables = model.reads.linear && model.reads.emb;
  }

  get step(): number {
    return this.stepNo;
  }

  /** Creates every table (idempotent) and offers the model's initial dense weights. */
  async init(): Promise<void> {
    const { params, spec, model } = this.deps;
    for (const t of this.tableSpecs()) await params.createTable(t);
    await params.createTable({ name: DENSE_TABLE, kind: 'dense', size: model.denseSize, optimizer: spec.model.denseOptimizer, initializer: { kind: 'zeros' } });
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
    const tables: TableSpec[] = embeddingTableSpecs(this.deps.spec);
    if (!this.linTables) return tables;
    return [...tables, ...tables.map((t): TableSpec => ({ ...t, name: linearTableOf(t.name), kind: 'embedding', dim: 1, initializer: { kind: 'zeros' } }))];
  }

  /**
   * Trains on every batch; returns samples seen and the mean loss. `afterStep` runs after each
   * step (its pushes issued, maybe not yet applied) and is awaited before the next step; a
   * worker commits its data position there. Pushes are flushed before this resolves.
   */
  async trainEpoch(batches: AsyncIterable<RawRow[]>, hooks: { afterStep?: (s: StepInfo & { size: number }) => Promise<void> | void } = {}): Promise<{ samples: number; loss: number; steps: number }> {
    let lossSum = 0;
    let n = 0;
    let steps = 0;
    for await (const p of this.prefetch(batches, false)) {
      const loss = await this.trainOne(p);
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

  private async trainOne(p: Prepared): Promise<number> {
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
    const sends = this.sparseGrads(p.tb, r.embGrad, r.linearGrad);
    const t3 = performance.now();
    await params.pushStep(sends, [{ table: DENSE_TABLE, grads: r.denseGrad }]);
    const time = { pullWaitS: (t1 - t0) / 1000, computeS: (t3 - t1) / 1000, pushWaitS: (performance.now() - t3) / 1000 };
    if ((this.stepNo + 1) % spec.training.denseSyncEvery === 0) {
      // Issued now, awaited at the next step: the round trip overlaps the next batch's
      // preparation. With synchronous pushes it still starts after this step's push is applied.
      this.densePull = params.pullDense(DENSE_TABLE);
      this.densePull.catch(() => undefined); // awaited next step; avoid an unhandled rejection meanwhile
    }
    this.stepNo++;
    this.samples += p.tb.size;
    this.deps.onStep?.({ step: this.stepNo, samples: this.samples, loss: r.loss, time });
    return r.loss;
  }

  /** Splits the model's gradients into per-table pushes (dropped fields excluded). */
  private sparseGrads(tb: TransformedBatch, embGrad: Float32Array, linearGrad: Float32Array) {
    const out: { table: string; ids: Uint32Array; grads: Float32Array }[] = [];
    for (const s of this.slots) {
      const ids = tb.ids[s.name];
      const mask = maskOf(tb, s.name);
      if (this.embTables) {
        const g = presentOnly(ids, scatterTable(embGrad, s, this.numFields, this.dim, tb.size), this.dim, mask);
        out.push({ table: s.name, ...g });
      }
      if (this.linTables || !this.embTables) {
        const g = presentOnly(ids, scatterTable(linearGrad, s, this.numFields, 1, tb.size), 1, mask);
        out.push({ table: this.linTables ? linearTableOf(s.name) : s.name, ...g });
      }
    }
    return out;
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
    const opts = { readOnly };
    const emb = this.embTables ? Promise.all(this.slots.map((s) => params.pull(s.name, tb.ids[s.name], this.dim, opts))) : Promise.resolve([]);
    const lin = this.linTables || !this.embTables
      ? Promise.all(this.slots.map((s) => params.pull(this.linTables ? linearTableOf(s.name) : s.name, tb.ids[s.name], 1, opts)))
      : Promise.resolve([]);
    const pulled = Promise.all([emb, lin]).then(([e, l]) => ({ emb: e, linear: l }));
    pulled.catch(() => undefined); // awaited by the consumer; avoid an unhandled rejection meanwhile
    return { rows, tb, pulled };
  }

  private async inputs(p: Prepared): Promise<BatchInputs> {
    const { tb } = p;
    const pulled = await p.pulled;
    const emb = new Float32Array(tb.size * this.numFields * (this.embTables ? this.dim : 0));
    const linear = new Float32Array(tb.size * this.numFields);
    this.slots.forEach((s, k) => {
      const mask = maskOf(tb, s.name);
      if (this.embTables) gatherTable(pulled.emb[k], s, this.numFields, this.dim, tb.size, emb, mask);
      if (pulled.linear.length) gatherTable(pulled.linear[k], s, this.numFields, 1, tb.size, linear, mask);
    });
    return { batch: tb.size, emb, linear, dense: tb.dense, labels: tb.labels };
  }
}
