/**
 * ParameterAccess over an in-process TableStore: no PS, no transport. Used to evaluate (and
 * later serve) a saved model, and in tests as the single-process reference.
 */
import { DenseTable } from '../ps/store/dense-table';
import { TableSpec, TableStore } from '../ps/store/table-store';
import type { IdArray } from '../wire/key-block';
import type { ParameterAccess } from './param-access';

export class LocalParams implements ParameterAccess {
  private readonly fresh = new Set<string>();

  constructor(readonly store: TableStore = new TableStore()) {}

  async createTable(spec: TableSpec): Promise<void> {
    const existed = this.store.has(spec.name);
    this.store.create(spec);
    if (!existed && spec.kind === 'dense') this.fresh.add(spec.name);
  }

  async pull(table: string, ids: IdArray, dim: number, opts: { readOnly?: boolean; out?: Float32Array } = {}): Promise<Float32Array> {
    const t = this.store.getEmbedding(table);
    const out = opts.out ?? new Float32Array((ids.length >>> 1) * dim);
    if (opts.readOnly) t.peek(ids, out);
    else t.pull(ids, out);
    return out;
  }

  async push(table: string, ids: IdArray, grads: Float32Array): Promise<void> {
    this.store.getEmbedding(table).push(ids, grads);
  }

  async pushStep(sparse: { table: string; ids: IdArray; grads: Float32Array }[], dense: { table: string; grads: Float32Array }[] = []): Promise<void> {
    for (const p of sparse) await this.push(p.table, p.ids, p.grads);
    for (const d of dense) await this.pushDense(d.table, d.grads);
  }

  async pullDense(table: string, out?: Float32Array): Promise<Float32Array> {
    const values = this.store.getDense(table).pull();
    if (out === undefined) return values;
    out.set(values);
    return out;
  }

  async pushDense(table: string, grads: Float32Array): Promise<void> {
    this.store.getDense(table).push(grads);
    this.fresh.delete(table);
  }

  async assignDense(table: string, values: Float32Array, onlyIfFresh = true): Promise<boolean> {
    const t: DenseTable = this.store.getDense(table);
    if (onlyIfFresh && !this.fresh.has(table)) return false;
    t.restore(values, t.state);
    this.fresh.delete(table);
    return true;
  }

  async flush(): Promise<void> {
    return undefined;
  }
}
