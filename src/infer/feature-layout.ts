/**
 * How a job's features meet its model: which tables a batch reads (the embedding tables and, for
 * models that read first-order weights, their dim-1 `.linear` companions), how the rows read for
 * a transformed batch become the model's inputs, and how the model's gradients split back into
 * per-table pushes. One layout per job, used by training, evaluation and serving alike, so a
 * served prediction is computed exactly the way evaluation computes it.
 *
 * ```ts
 * const layout = new FeatureLayout(spec, transformer, model);
 * const tb = transformer.transformBatch(rows);
 * const pulled = await layout.read(tb, (table, ids, dim) => params.pull(table, ids, dim, { readOnly: true }));
 * const probs = await model.predict(dense, layout.inputs(tb, pulled));
 * ```
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { BatchInputs, CtrModel } from '../model/types';
import type { DenseTableSpec, TableSpec } from '../ps/store/table-store';
import { denseTable, hasLinearCompanions, jobTables, linearTableOf } from '../spec/job-tables';
import type { FeatureTransformer, TransformedBatch } from '../spec/transform';
import type { JobSpec } from '../spec/types';
import type { IdArray } from '../wire/key-block';
import type { ListInput } from '../model/types';
import {
  expandPresent, gatherTable, maskOf, orderedLengths, planLists, planSlots, presentIds, presentOnly, scatterTable, TableSlot, wholeRow,
} from './batch-assembler';


/**
 * Reads the rows [n × dim] of `ids` from `table`, in order. With `versions` ([n]), storage that
 * tracks row versions also writes the version of each row read (push staleness). The array
 * returned is the caller's own (no one else writes it): `FeatureLayout.inputs` may hand it to
 * the model as its input.
 */
export type RowRead = (table: string, ids: IdArray, dim: number, versions?: Uint32Array) => Promise<Float32Array> | Float32Array;

/** Per slot, as in {@link PulledRows}: the version of each row read. */
export interface RowVersions {
  emb: Uint32Array[];
  linear: Uint32Array[];
}

/** The rows a batch read, per slot: embeddings and first-order weights. */
export interface PulledRows {
  emb: Float32Array[];
  linear: Float32Array[];
  /** Their versions, when the read asked for them. */
  versions?: RowVersions;
}

/** One table's gradient rows to push. */
export interface SparseGrad {
  table: string;
  ids: Uint32Array;
  grads: Float32Array;
  /** The version of each id's row as read, when the read asked for versions. */
  readVersions?: Uint32Array;
}

/** The feature layout of one job; see the file comment. */
export class FeatureLayout {
  /** The tables with fields, in spec order, with each one's field offset. */
  readonly slots: TableSlot[];
  /** Fields F of a row. */
  readonly numFields: number;
  /** The embedding dim the model reads. */
  readonly dim: number;
  /** The model's list inputs (`ModelConfig.lists`), by field offset. */
  readonly lists: readonly ListInput[];
  /** Per model list, the transformer's list index (its `listLengths` column). */
  private readonly listOrder: readonly number[];
  private readonly embTables: boolean;
  private readonly linTables: boolean;
  private readonly reads: CtrModel['reads'];

  /** @throws TesseraError CONFIG when a model that reads embeddings gets tables of different dims */
  constructor(private readonly spec: JobSpec, transformer: FeatureTransformer, model: Pick<CtrModel, 'reads'>) {
    const plan = planSlots(spec.features.tables.map((t) => t.name), transformer.fieldsPerTable);
    this.slots = plan.slots;
    this.numFields = plan.numFields;
    const lists = planLists(plan.slots, transformer.lists);
    this.lists = lists.inputs;
    this.listOrder = lists.order;
    const dims = new Set(spec.features.tables.filter((t) => plan.slots.some((s) => s.name === t.name)).map((t) => t.dim));
    if (model.reads.emb && dims.size > 1) {
      throw new TesseraError(ERROR_CODES.CONFIG, `features.tables: model ${spec.model.kind} is trained with one embedding dim for all tables; got dims ${[...dims].join(', ')}`);
    }
    this.dim = [...dims][0] ?? 1;
    this.embTables = model.reads.emb;
    this.linTables = hasLinearCompanions(model.reads);
    this.reads = model.reads;
  }

  /** The tables this job uses (embedding tables and their first-order companions). */
  tableSpecs(): TableSpec[] {
    return jobTables(this.spec, this.reads);
  }

  /** The dense table of a model with `size` dense parameters. */
  denseSpec(size: number): DenseTableSpec {
    return denseTable(this.spec, size);
  }

  /**
   * Reads every row the batch needs, all tables at once; with `withVersions`, their versions too.
   * Absent slots (mask 0) are not read: their rows come back as zeros (and version 0).
   */
  read(tb: TransformedBatch, read: RowRead, withVersions = false): Promise<PulledRows> {
    const readsLin = this.linTables || !this.embTables;
    const versionsOf = (on: boolean) => (withVersions && on ? this.slots.map((s) => new Uint32Array(tb.ids[s.name].length >>> 1)) : []);
    const versions = withVersions ? { emb: versionsOf(this.embTables), linear: versionsOf(readsLin) } : undefined;
    const readSlot = async (s: TableSlot, table: string, width: number, v?: Uint32Array): Promise<Float32Array> => {
      const mask = maskOf(tb, s.name);
      const ids = presentIds(tb.ids[s.name], mask);
      if (ids === null || mask === undefined) return read(table, tb.ids[s.name], width, v);
      const got = v ? new Uint32Array(ids.length >>> 1) : undefined;
      const rows = await read(table, ids, width, got);
      if (v && got) v.set(expandPresent(got, mask, 1, (n) => new Uint32Array(n)));
      return expandPresent(rows, mask, width, (n) => new Float32Array(n));
    };
    const emb = this.embTables ? Promise.all(this.slots.map((s, k) => readSlot(s, s.name, this.dim, versions?.emb[k]))) : Promise.resolve([]);
    const lin = readsLin
      ? Promise.all(this.slots.map((s, k) => readSlot(s, this.linTables ? linearTableOf(s.name) : s.name, 1, versions?.linear[k])))
      : Promise.resolve([]);
    return Promise.all([emb, lin]).then(([e, l]) => (versions ? { emb: e, linear: l, versions } : { emb: e, linear: l }));
  }

  /**
   * The model's inputs for `tb` from the rows read for it (dropped fields are zero vectors). One
   * table holding every field with none dropped (the common DeepFM job) reads rows already laid
   * out as the model's: those arrays are the inputs, not copies (1.7 MB a DeepFM step at batch
   * 1,024 that is neither allocated nor copied).
   */
  inputs(tb: TransformedBatch, pulled: PulledRows): BatchInputs {
    const emb = this.assemble(pulled.emb, tb, this.embTables ? this.dim : 0);
    const linear = this.assemble(pulled.linear, tb, 1);
    const inputs: BatchInputs = { batch: tb.size, emb, linear, dense: tb.dense, labels: tb.labels };
    if (tb.listLengths) inputs.listLengths = orderedLengths(tb.listLengths, this.listOrder, tb.size);
    return inputs;
  }

  /** One model input [B × F × width] from the rows of each slot (none read: zeros); see `inputs`. */
  private assemble(rows: Float32Array[], tb: TransformedBatch, width: number): Float32Array {
    const size = tb.size * this.numFields * width;
    if (rows.length === 1 && rows[0].length === size && wholeRow(this.slots[0], this.numFields, maskOf(tb, this.slots[0].name))) return rows[0];
    const out = new Float32Array(size);
    if (rows.length > 0) this.slots.forEach((s, k) => gatherTable(rows[k], s, this.numFields, width, tb.size, out, maskOf(tb, s.name)));
    return out;
  }

  /**
   * Splits the model's gradients into per-table pushes (dropped fields excluded), carrying the
   * versions the rows were read at when `versions` is given (a step sampled for staleness).
   */
  gradients(tb: TransformedBatch, embGrad: Float32Array, linearGrad: Float32Array, versions?: RowVersions): SparseGrad[] {
    const out: SparseGrad[] = [];
    this.slots.forEach((s, k) => {
      const ids = tb.ids[s.name];
      const mask = maskOf(tb, s.name);
      if (this.embTables) out.push({ table: s.name, ...presentOnly(ids, scatterTable(embGrad, s, this.numFields, this.dim, tb.size), this.dim, mask, versions?.emb[k]) });
      if (this.linTables || !this.embTables) {
        const g = presentOnly(ids, scatterTable(linearGrad, s, this.numFields, 1, tb.size), 1, mask, versions?.linear[k]);
        out.push({ table: this.linTables ? linearTableOf(s.name) : s.name, ...g });
      }
    });
    return out;
  }
}
