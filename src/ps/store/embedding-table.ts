/**
 * A sparse embedding table: u64 id → `dim` float32 weights plus the optimizer's per-row state.
 *
 * Memory layout. Rows live in large Float32Array slabs of `slabRows` rows each, one row being
 * `[weights (dim) | state (stateWidth)]`. Slabs are allocated one at a time as the table grows, so
 * growth never copies row data; only the IdIndex (id → row slot) rehashes. A row keeps its slot
 * for its whole life, so views handed out by `forEachRow` stay valid until the row is overwritten.
 *
 * Gather speed. When `dim` and the row stride are even, rows are copied as float64 pairs through
 * Float64Array views with a loop unrolled by four (DESIGN §4 measured 10.6 M vs 2.5 M rows/s for a
 * plain float32 loop; `set(subarray)` is slower still because it allocates a view per row; see
 * bench/table-bench.ts for this run's figures). Moving float32 pairs as float64 keeps bits: a pair
 * is a float64 NaN (whose payload an engine could canonicalise) only when its high float32 is
 * itself a NaN, which validated finite input cannot produce short of float32 overflow.
 */
import type { IdArray } from '../../wire/key-block';
import { createOptimizer } from '../optimizers/registry';
import type { Optimizer, OptimizerConfig } from '../optimizers/optimizer';
import { IdIndex } from './id-index';
import { DEFAULT_INITIALIZER, InitializerConfig, initRow, validateInitializer } from './initializers';
import { checkDim, checkSeed, checkTableName } from './table-spec';
import { badConfig, checkNumber } from '../optimizers/config-check';
import { checkFinite, checkIds, checkRegion, growInt32, rowCopy } from './row-ops';

/** Default rows per slab: 2^16 rows, 8 MiB per slab for dim 16 with Adagrad. */
export const DEFAULT_SLAB_ROWS = 1 << 16;

const SLAB_ROWS_BOUNDS = { integer: true, min: 1, max: 1 << 24 };
const CAPACITY_BOUNDS = { integer: true, min: 0, max: 1 << 29 };

/** Construction options; see `EmbeddingTableSpec` for the meaning of the shared fields. */
export interface EmbeddingTableOptions {
  name: string;
  dim: number;
  optimizer: OptimizerConfig;
  initializer?: InitializerConfig;
  seed?: number;
  /** rows to hold before the first index rehash (default 0) */
  initialCapacity?: number;
  /** rows per slab, a power of two in [1, 2^24] (default 2^16) */
  slabRows?: number;
}

/**
 * Sparse table with lazily created rows.
 *
 * ```ts
 * const t = new EmbeddingTable({ name: 'user', dim: 16, optimizer: { kind: 'adagrad', lr: 0.05 } });
 * const ids = idsFrom([7n, 42n, 7n]);
 * const out = new Float32Array(3 * 16);
 * t.pull(ids, out);            // creates rows 7 and 42 from the initializer
 * t.push(ids, grads);          // grads [3 × 16]; the two rows for id 7 are summed first
 * ```
 */
export class EmbeddingTable {
  readonly name: string;
  readonly dim: number;
  /** Optimizer config with defaults filled in. */
  readonly optimizerConfig: Readonly<Required<OptimizerConfig>>;
  readonly initializer: InitializerConfig;
  readonly seed: number;
  /** Floats of optimizer state per row. */
  readonly stateWidth: number;
  /** Floats per row in a slab: `dim + stateWidth`. */
  readonly stride: number;
  private readonly opt: Optimizer;
  private readonly index: IdIndex;
  private readonly slabs: Float32Array[] = [];
  private readonly slabs64: Float64Array[] = [];
  private readonly slabShift: number;
  private readonly slabMask: number;
  private readonly wide: boolean;
  private rowCount = 0;
  private rowScratch: Int32Array = new Int32Array(0);
  private dedup: Int32Array = new Int32Array(0);
  private uniq: Int32Array = new Int32Array(0);
  private gsum: Float32Array = new Float32Array(0);

  /** Validates `opts` (errors name the key) and creates an empty table. */
  constructor(opts: EmbeddingTableOptions) {
    this.name = checkTableName(opts.name);
    this.dim = checkDim(opts.dim);
    this.opt = createOptimizer(opts.optimizer);
    this.optimizerConfig = this.opt.config;
    this.initializer = validateInitializer(opts.initializer ?? DEFAULT_INITIALIZER);
    this.seed = checkSeed(opts.seed);
    const slabRows = checkNumber('slabRows', opts.slabRows, SLAB_ROWS_BOUNDS, DEFAULT_SLAB_ROWS);
    if ((slabRows & (slabRows - 1)) !== 0) badConfig('slabRows', 'must be a power of two', slabRows);
    const expected = checkNumber('initialCapacity', opts.initialCapacity, CAPACITY_BOUNDS, 0);
    this.stateWidth = this.opt.stateWidth(this.dim);
    this.stride = this.dim + this.stateWidth;
    this.slabShift = Math.log2(slabRows);
    this.slabMask = slabRows - 1;
    this.wide = this.dim % 2 === 0 && this.stride % 2 === 0;
    this.index = new IdIndex(expected);
  }

  /** Rows resident. */
  get size(): number {
    return this.index.size;
  }

  /** Slots in the id index (a power of two; grows ×2 at load 0.7). */
  get indexCapacity(): number {
    return this.index.capacity;
  }

  /** Bytes used by the id index and the row slabs. */
  memoryBytes(): number {
    return this.index.bytes() + this.slabs.length * (this.slabMask + 1) * this.stride * 4;
  }

  /** True when row `(lo, hi)` is resident. */
  has(lo: number, hi: number): boolean {
    return this.index.find(lo, hi) >= 0;
  }

  /**
   * Gathers the rows of `ids` into `out[outOff .. outOff + n*dim)`, creating missing rows from the
   * initializer (and the optimizer's initial state). Duplicate ids are gathered twice.
   */
  pull(ids: IdArray, out: Float32Array, outOff = 0): void {
    const n = checkIds(this.name, ids);
    checkRegion(this.name, 'out', out, outOff, n * this.dim);
    const rows = this.resolve(ids, n, true);
    this.gather(rows, n, out, outOff);
  }

  /**
   * Like `pull`, but a missing row is produced by the initializer into `out` without being
   * inserted (evaluation and serving must not grow the table).
   */
  peek(ids: IdArray, out: Float32Array, outOff = 0): void {
    const n = checkIds(this.name, ids);
    checkRegion(this.name, 'out', out, outOff, n * this.dim);
    const rows = this.resolve(ids, n, false);
    this.gather(rows, n, out, outOff);
    const { initializer, seed, dim } = this;
    for (let i = 0; i < n; i++) {
      if (rows[i] < 0) initRow(initializer, seed, ids[2 * i], ids[2 * i + 1], out, outOff + i * dim, dim);
    }
  }

  /**
   * Applies gradients `grads [n × dim]` for `ids`. Input is validated completely first (id pairs,
   * `grads.length === n*dim`, every value finite), so a rejected push leaves the table unchanged.
   * Gradients of duplicate ids are summed (float32, in input order), then the optimizer runs once
   * per distinct row, in first-occurrence order. Missing
   * rows are created from the initializer first (a row evicted between pull and push).
   * @returns the number of distinct rows updated
   */
  push(ids: IdArray, grads: Float32Array): number {
    const n = checkIds(this.name, ids);
    checkRegion(this.name, 'grads', grads, 0, n * this.dim, true);
    checkFinite(this.name, 'grads', grads, this.dim, ids);
    const rows = this.resolve(ids, n, true);
    const u = this.sumDuplicates(rows, n, grads);
    const { dim, uniq, gsum, slabs, slabShift, slabMask, stride, opt } = this;
    for (let k = 0; k < u; k++) {
      const r = uniq[k];
      const slab = slabs[r >>> slabShift];
      const off = (r & slabMask) * stride;
      opt.apply(slab, off, slab, off + dim, gsum, k * dim, dim);
    }
    return u;
  }

  /**
   * Calls `fn` for every resident row with its id halves and views (not copies) of its weights
   * and state. The table must not be modified during iteration.
   */
  forEachRow(fn: (lo: number, hi: number, weights: Float32Array, state: Float32Array) => void): void {
    const { dim, stride, slabs, slabShift, slabMask } = this;
    this.index.forEach((lo, hi, r) => {
      const slab = slabs[r >>> slabShift];
      const off = (r & slabMask) * stride;
      fn(lo, hi, slab.subarray(off, off + dim), slab.subarray(off + dim, off + stride));
    });
  }

  /** Inserts or overwrites row `(lo, hi)` with copies of `weights [dim]` and `state [stateWidth]`. */
  putRow(lo: number, hi: number, weights: Float32Array, state: Float32Array): void {
    checkNumber('lo', lo, { integer: true, min: 0, max: 0xffffffff });
    checkNumber('hi', hi, { integer: true, min: 0, max: 0xffffffff });
    checkRegion(this.name, 'weights', weights, 0, this.dim, true);
    checkRegion(this.name, 'state', state, 0, this.stateWidth, true);
    checkFinite(this.name, 'weights', weights, this.dim, null);
    checkFinite(this.name, 'state', state, this.stateWidth, null);
    let r = this.index.findOrInsert(lo, hi, this.rowCount);
    if (r === this.rowCount) r = this.allocRow();
    const slab = this.slabs[r >>> this.slabShift];
    const off = (r & this.slabMask) * this.stride;
    slab.set(weights, off);
    slab.set(state, off + this.dim);
  }

  /** Row slots of `ids` into the shared scratch; with `create`, missing rows are created. */
  private resolve(ids: IdArray, n: number, create: boolean): Int32Array {
    if (this.rowScratch.length < n) this.rowScratch = growInt32(n);
    const rows = this.rowScratch;
    const index = this.index;
    for (let i = 0; i < n; i++) {
      const lo = ids[2 * i];
      const hi = ids[2 * i + 1];
      if (!create) {
        rows[i] = index.find(lo, hi);
        continue;
      }
      const next = this.rowCount;
      const r = index.findOrInsert(lo, hi, next);
      rows[i] = r === next ? this.createRow(lo, hi) : r;
    }
    return rows;
  }

  /** Allocates the next slot (and a slab when needed) and initialises weights and state. */
  private createRow(lo: number, hi: number): number {
    const r = this.allocRow();
    const slab = this.slabs[r >>> this.slabShift];
    const off = (r & this.slabMask) * this.stride;
    initRow(this.initializer, this.seed, lo, hi, slab, off, this.dim);
    this.opt.initState(slab, off, slab, off + this.dim, this.dim);
    return r;
  }

  private allocRow(): number {
    const r = this.rowCount++;
    if (r >>> this.slabShift >= this.slabs.length) {
      const slab = new Float32Array((this.slabMask + 1) * this.stride);
      this.slabs.push(slab);
      if (this.wide) this.slabs64.push(new Float64Array(slab.buffer));
    }
    return r;
  }

  /** Copies the weights of `rows[0..n)` into `out`; slots < 0 are skipped. */
  private gather(rows: Int32Array, n: number, out: Float32Array, outOff: number): void {
    const { dim, stride, slabShift, slabMask } = this;
    const byteOff = out.byteOffset + outOff * 4;
    if (this.wide && byteOff % 8 === 0) {
      const o64 = new Float64Array(out.buffer, byteOff, (n * dim) >>> 1);
      rowCopy(this.slabs64, rows, n, o64, dim >>> 1, stride >>> 1, slabShift, slabMask);
      return;
    }
    for (let i = 0; i < n; i++) {
      const r = rows[i];
      if (r < 0) continue;
      const src = this.slabs[r >>> slabShift];
      const s = (r & slabMask) * stride;
      const o = outOff + i * dim;
      for (let j = 0; j < dim; j++) out[o + j] = src[s + j];
    }
  }

  /**
   * Sums gradient rows of equal row slots into `gsum`, in first-occurrence order, and lists the
   * distinct slots in `uniq`. A scratch open-addressing set keyed by row slot (reused across calls)
   * finds duplicates without sorting. Returns the number of distinct rows.
   */
  private sumDuplicates(rows: Int32Array, n: number, grads: Float32Array): number {
    const dim = this.dim;
    let bits = 4;
    while (1 << bits < 2 * n) bits++;
    if (this.dedup.length < 1 << bits) this.dedup = new Int32Array(1 << bits);
    if (this.uniq.length < n) this.uniq = growInt32(n);
    if (this.gsum.length < n * dim) this.gsum = new Float32Array(this.uniq.length * dim);
    const { dedup, uniq, gsum } = this;
    const mask = (1 << bits) - 1;
    dedup.fill(-1, 0, mask + 1);
    let u = 0;
    for (let i = 0; i < n; i++) {
      const r = rows[i];
      let h = Math.imul(r, 0x9e3779b1) >>> (32 - bits);
      let k = dedup[h];
      while (k >= 0 && uniq[k] !== r) {
        h = (h + 1) & mask;
        k = dedup[h];
      }
      const g = i * dim;
      if (k < 0) {
        dedup[h] = u;
        uniq[u] = r;
        const s = u * dim;
        for (let j = 0; j < dim; j++) gsum[s + j] = grads[g + j];
        u++;
      } else {
        const s = k * dim;
        for (let j = 0; j < dim; j++) gsum[s + j] += grads[g + j];
      }
    }
    return u;
  }
}
