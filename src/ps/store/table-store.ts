/**
 * The tables one parameter server holds, by name. Creation is idempotent so a retried or
 * re-broadcast CreateTable is harmless, while a conflicting spec for an existing name is refused.
 */
import { randomInt } from 'node:crypto';
import { ERROR_CODES, TesseraError } from '../../common/errors';
import { DenseTable } from './dense-table';
import { EmbeddingTable } from './embedding-table';
import type { RowTier } from './row-tier';
import { normalizeTableSpec, sameSpec, TableInfo, TableSpec } from './table-spec';

export type { DenseTableSpec, EmbeddingTableSpec, TableInfo, TableSpec } from './table-spec';

/** Options applied to every embedding table the store creates. */
export interface TableStoreOptions {
  /** rows per slab for embedding tables (default `DEFAULT_SLAB_ROWS`) */
  slabRows?: number;
  /** monotonic milliseconds, for tables with `eviction.ttlSeconds` (default performance.now) */
  now?: () => number;
  /** the PS's disk tier, for tables with `eviction.spill` (none: such tables are refused) */
  tier?: RowTier;
  /** a new table's incarnation (default: random in [1, 2^48)) */
  newIncarnation?: () => number;
}

/**
 * Incarnations are random rather than counted so that they differ across PS restarts too: a
 * caller holding one can tell "the same table" from "a table of that name created since",
 * whoever created it. 48 bits keep them exact in JS numbers and on the wire (uint64).
 */
const MAX_INCARNATION = 2 ** 48;

interface Entry {
  spec: TableSpec;
  table: EmbeddingTable | DenseTable;
  incarnation: number;
}

function memoryOf(t: EmbeddingTable): NonNullable<TableInfo['memory']> {
  const c = t.memoryCounters();
  return {
    admitted: c.admitted, rejected: c.rejected, droppedGradients: c.droppedGradients,
    evictedTtl: c.evicted.ttl, evictedBudget: c.evicted.budget,
    ...(c.tier ? { tier: c.tier } : {}),
  };
}

/**
 * Named tables.
 *
 * ```ts
 * const store = new TableStore();
 * store.create({ name: 'user', kind: 'embedding', dim: 16, optimizer: { kind: 'adagrad', lr: 0.05 } });
 * const user = store.getEmbedding('user');
 * ```
 */
export class TableStore {
  private readonly tables = new Map<string, Entry>();
  private readonly opts: TableStoreOptions;

  constructor(opts: TableStoreOptions = {}) {
    this.opts = { ...opts };
  }

  /**
   * Creates a table from `spec` (validated; errors name the key). Creating a table that exists
   * with an identical spec (after defaults are filled in) does nothing; a different spec throws
   * TESSERA_ERR_TABLE_EXISTS. `initialCapacity`: ids an embedding table's index holds before it
   * first grows (at most its row budget), for a table about to be loaded with that many rows.
   */
  create(spec: TableSpec, opts: { initialCapacity?: number } = {}): void {
    const norm = normalizeTableSpec(spec);
    const existing = this.tables.get(norm.name);
    if (existing) {
      if (sameSpec(existing.spec, norm)) return;
      throw new TesseraError(ERROR_CODES.TABLE_EXISTS,
        `table "${norm.name}" already exists with a different spec: ${JSON.stringify(existing.spec)}`);
    }
    const table = norm.kind === 'embedding' ? this.createEmbedding(norm, opts.initialCapacity) : new DenseTable(norm);
    const incarnation = this.opts.newIncarnation?.() ?? randomInt(1, MAX_INCARNATION);
    this.tables.set(norm.name, { spec: norm, table, incarnation });
  }

  /** The incarnation table `name` got when it was created; TESSERA_ERR_UNKNOWN_TABLE when absent. */
  incarnation(name: string): number {
    this.get(name);
    return this.tables.get(name)!.incarnation;
  }

  /** Removes a table (and its rows in the disk tier); false when it did not exist. */
  drop(name: string): boolean {
    const e = this.tables.get(name);
    if (e && e.table instanceof EmbeddingTable && e.table.eviction?.spill) this.opts.tier?.dropTable(name);
    return this.tables.delete(name);
  }

  /**
   * An embedding table, with its store in the disk tier when it spills. The table opens that
   * store only once the rest of its spec is valid (a bad tier dir fails here too), so a refused
   * spec never reaches the disk (issue 23: an LMDB abort on a refused spill table).
   */
  private createEmbedding(norm: Extract<TableSpec, { kind: 'embedding' }>, initialCapacity?: number): EmbeddingTable {
    const rowTier = this.opts.tier;
    const spill = norm.eviction?.spill === true && rowTier !== undefined;
    const tier = spill ? () => rowTier.openTable(norm.name) : undefined;
    try {
      return new EmbeddingTable({ ...norm, slabRows: this.opts.slabRows, now: this.opts.now, tier, initialCapacity });
    } catch (err) {
      if (spill) this.opts.tier!.dropTable(norm.name);
      throw err;
    }
  }

  /** Rows per slab of its embedding tables, as configured (undefined: the default). */
  get slabRows(): number | undefined {
    return this.opts.slabRows;
  }

  /** True when a table of that name exists. */
  has(name: string): boolean {
    return this.tables.has(name);
  }

  /** The table, or TESSERA_ERR_UNKNOWN_TABLE naming it. */
  get(name: string): EmbeddingTable | DenseTable {
    const e = this.tables.get(name);
    if (!e) throw new TesseraError(ERROR_CODES.UNKNOWN_TABLE, `table "${name}" does not exist`);
    return e.table;
  }

  /** The embedding table `name`; TESSERA_ERR_INVALID_ARGUMENT when it is dense. */
  getEmbedding(name: string): EmbeddingTable {
    const t = this.get(name);
    if (!(t instanceof EmbeddingTable)) {
      throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `table "${name}" is dense, not an embedding table`);
    }
    return t;
  }

  /** The dense table `name`; TESSERA_ERR_INVALID_ARGUMENT when it is an embedding table. */
  getDense(name: string): DenseTable {
    const t = this.get(name);
    if (!(t instanceof DenseTable)) {
      throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `table "${name}" is an embedding table, not dense`);
    }
    return t;
  }

  /** The normalised spec a table was created with (defaults filled in). */
  spec(name: string): TableSpec {
    this.get(name);
    return structuredClone(this.tables.get(name)!.spec);
  }

  /** One line per table, sorted by name. */
  list(): TableInfo[] {
    const out: TableInfo[] = [];
    for (const { table: t, incarnation } of this.tables.values()) {
      const optimizer = t.optimizerConfig.kind;
      out.push(t instanceof EmbeddingTable
        ? { name: t.name, kind: 'embedding', dim: t.dim, rows: t.size, bytes: t.memoryBytes(), optimizer, incarnation, memory: memoryOf(t) }
        : { name: t.name, kind: 'dense', dim: t.size, size: t.size, rows: 1, bytes: t.memoryBytes(), optimizer, incarnation });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}
