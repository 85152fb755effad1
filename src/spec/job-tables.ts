/**
 * A job's table set, from its spec alone: the embedding tables, their dim-1 first-order
 * (`.linear`) companions for models that read first-order weights beside embeddings, and the
 * dense table holding the model's dense parameters. The chief creates these tables, the worker
 * pushes to them, the model export and serving read them: all of them name tables through here.
 *
 * ```ts
 * for (const t of jobTables(spec, { emb: true, linear: true })) await admin.createTable(t);
 * await admin.createTable(denseTable(spec, model.denseSize));
 * ```
 */
import type { DenseTableSpec, TableSpec } from '../ps/store/table-store';
import { embeddingTableSpecs } from './ps-config';
import type { JobSpec } from './types';

/** Name of the table holding the model's dense parameters. */
export const DENSE_TABLE = 'dense';

/** Name of the dim-1 first-order companion of embedding table `t`. */
export function linearTableOf(t: string): string {
  return `${t}.linear`;
}

/** Which inputs a model reads: embedding rows, first-order weights, or both. */
export interface ModelReads {
  readonly emb: boolean;
  readonly linear: boolean;
}

/**
 * True when a model with these reads keeps first-order weights in `.linear` companion tables.
 * A model that reads only first-order weights (LR) keeps them in the (dim-1) tables themselves.
 */
export function hasLinearCompanions(reads: ModelReads): boolean {
  return reads.linear && reads.emb;
}

/** The sparse tables of a job whose model reads `reads` (embedding tables, then companions). */
export function jobTables(spec: JobSpec, reads: ModelReads): TableSpec[] {
  const tables: TableSpec[] = embeddingTableSpecs(spec);
  if (!hasLinearCompanions(reads)) return tables;
  return [...tables, ...tables.map((t): TableSpec => ({ ...t, name: linearTableOf(t.name), kind: 'embedding', dim: 1, initializer: { kind: 'zeros' } }))];
}

/** The dense table of a job whose model has `size` dense parameters. */
export function denseTable(spec: JobSpec, size: number): DenseTableSpec {
  return { name: DENSE_TABLE, kind: 'dense', size, optimizer: spec.model.denseOptimizer, initializer: { kind: 'zeros' } };
}
