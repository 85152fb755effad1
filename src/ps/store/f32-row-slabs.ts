/**
 * Float32 row slabs: each row is `[weights (dim) | state (stateWidth)]` inside a Float32Array of
 * `slabRows` rows.
 *
 * Gather speed. When `dim` and the row stride are even, rows are copied as float64 pairs through
 * Float64Array views with a loop unrolled by four: on the 2-core development machines that moves
 * 10.6 M rows/s against 2.5 M for a plain float32 loop (bench/table-bench.ts measures both). Moving float32 pairs as
 * float64 keeps bits: a pair is a float64 NaN (whose payload an engine could canonicalise) only
 * when its high float32 is itself a NaN, which validated finite input cannot produce short of
 * float32 overflow. Where the native addon is built (src/common/native-rows.ts, ADR 0041), gathers
 * and the push's undo copy run there instead, about twice as fast again.
 */
import { nativeRows } from '../../common/native-rows';
import { AdagradOptimizer } from '../optimizers/adagrad';
import type { Optimizer } from '../optimizers/optimizer';
import { InitializerConfig, initRow } from './initializers';
import type { RowStorage, SlabView } from './row-storage';
import { rowCopy, rowFinite } from './row-ops';

/** The empty undo array: the native Adagrad keeps no undo copy (a replica's replay). */
const NO_UNDO = new Float32Array(0);

/** Where a table's f32 rows are: row r is `stride` floats from `(r & (2^shift - 1)) * stride` of slab `r >> shift`. */
export interface RowSlabLayout {
  slabs: Float32Array[];
  shift: number;
  stride: number;
  /** Weights per row: the floats a pull reads. */
  dim: number;
}

/** Interleaved float32 weights and state. */
export class F32RowSlabs implements RowStorage {
  readonly format = 'f32' as const;
  /** Floats per row: `dim + stateWidth`. */
  readonly stride: number;
  readonly rowBytes: number;
  private readonly slabs: Float32Array[] = [];
  private readonly slabs64: Float64Array[] = [];
  private readonly shift: number;
  private readonly mask: number;
  private readonly wide: boolean;
  /** The rows a push is updating, as they were (its all-or-nothing rollback). */
  private undo = new Float32Array(0);

  /** `slabRows` must be a power of two (the table validates it). */
  constructor(readonly dim: number, readonly stateWidth: number, readonly slabRows: number) {
    this.stride = dim + stateWidth;
    this.rowBytes = this.stride * 4;
    this.shift = Math.log2(slabRows);
    this.mask = slabRows - 1;
    this.wide = dim % 2 === 0 && this.stride % 2 === 0;
  }

  get allocatedSlots(): number {
    return this.slabs.length * this.slabRows;
  }

  bytes(): number {
    return this.slabs.length * this.slabRows * this.rowBytes;
  }

  ensure(r: number): void {
    while (r >>> this.shift >= this.slabs.length) {
      const slab = new Float32Array(this.slabRows * this.stride);
      this.slabs.push(slab);
      if (this.wide) this.slabs64.push(new Float64Array(slab.buffer));
    }
  }

  initRow(r: number, lo: number, hi: number, init: InitializerConfig, seed: number, opt: Optimizer): void {
    const slab = this.slabs[r >>> this.shift];
    const off = (r & this.mask) * this.stride;
    initRow(init, seed, lo, hi, slab, off, this.dim);
    opt.initState(slab, off, slab, off + this.dim, this.dim);
  }

  /** The slabs as the native kernels read them (IdIndex.findAllGathered). */
  get layout(): RowSlabLayout {
    return { slabs: this.slabs, shift: this.shift, stride: this.stride, dim: this.dim };
  }

  /**
   * Natively for the uniform initializer and Adagrad (the defaults), where the addon is built:
   * the same bits as `initRow`, without its per-element calls (a PS creating rows).
   */
  initRows(rows: Int32Array, ids: Uint32Array, k: number, init: InitializerConfig, seed: number, opt: Optimizer): boolean {
    const native = nativeRows(k);
    if (!native || init.kind !== 'uniform' || !(opt instanceof AdagradOptimizer)) return false;
    native.initUniformF32(this.slabs, this.shift, this.stride, this.dim, rows, ids, k, seed >>> 0, init.scale, opt.config.initialAccumulator);
    return true;
  }

  gather(rows: Int32Array, n: number, out: Float32Array, outOff: number): void {
    const { dim, stride, shift, mask } = this;
    const k = nativeRows(n);
    if (k) {
      k.gatherF32(this.slabs, shift, stride, rows, n, dim, out, outOff);
      return;
    }
    const byteOff = out.byteOffset + outOff * 4;
    if (this.wide && byteOff % 8 === 0) {
      const o64 = new Float64Array(out.buffer, byteOff, (n * dim) >>> 1);
      rowCopy(this.slabs64, rows, n, o64, dim >>> 1, stride >>> 1, shift, mask);
      return;
    }
    for (let i = 0; i < n; i++) {
      const r = rows[i];
      if (r < 0) continue;
      const src = this.slabs[r >>> shift];
      const s = (r & mask) * stride;
      const o = outOff + i * dim;
      for (let j = 0; j < dim; j++) out[o + j] = src[s + j];
    }
  }

  /**
   * Updates each row in place, all or nothing: every row is first copied to an undo log (one
   * pass of the gather kernel; the native Adagrad copies each row in its own pass, just before
   * updating it), then each is updated and checked (`rowFinite`), and on the first row holding
   * a non-finite value every row updated so far is put back. A float32 copy loop and
   * a one-accumulator check per row cost a push about a quarter more PS CPU than this. Adagrad
   * (unwrapped: no clip_norm or l2_reg) runs natively where the addon is built, computing what
   * `AdagradOptimizer.apply` computes, in float64 per element.
   */
  applyRows(opt: Optimizer, slots: Int32Array, u: number, g: Float32Array, keepUndo = true): number {
    const { dim, slabs, shift, mask, stride } = this;
    const native = nativeRows(u);
    if (native && opt instanceof AdagradOptimizer) {
      // The kernel takes the undo copy row by row as it updates (one pass over the rows, not two).
      if (keepUndo && this.undo.length < u * stride) this.undo = new Float32Array(u * stride);
      const undo = keepUndo ? this.undo : NO_UNDO;
      const k = native.adagradF32(slabs, shift, stride, dim, slots, u, g, opt.config.lr, opt.config.eps, undo);
      if (k >= 0 && keepUndo) this.restoreRows(slots, k, undo);
      return k;
    }
    const undo = keepUndo ? this.saveRows(slots, u) : null;
    for (let k = 0; k < u; k++) {
      const r = slots[k];
      const slab = slabs[r >>> shift];
      const off = (r & mask) * stride;
      opt.apply(slab, off, slab, off + dim, g, k * dim, dim);
      if (!rowFinite(slab, off, stride)) {
        if (undo) this.restoreRows(slots, k, undo);
        return k;
      }
    }
    return -1;
  }

  /** Puts slots `slots[0..k]` back as `saveRows` copied them to `undo`. */
  private restoreRows(slots: Int32Array, k: number, undo: Float32Array): void {
    const { slabs, shift, mask, stride } = this;
    for (let b = 0; b <= k; b++) {
      const rb = slots[b];
      slabs[rb >>> shift].set(undo.subarray(b * stride, (b + 1) * stride), (rb & mask) * stride);
    }
  }

  /** Copies slots `slots[0..u)` (weights and state) to the undo log, row k at `k * stride`. */
  private saveRows(slots: Int32Array, u: number): Float32Array {
    const { stride, shift, mask } = this;
    if (this.undo.length < u * stride) this.undo = new Float32Array(u * stride);
    const undo = this.undo;
    const k = nativeRows(u);
    if (k) {
      k.gatherF32(this.slabs, shift, stride, slots, u, stride, undo, 0);
      return undo;
    }
    if (this.wide) {
      const pairs = stride >>> 1;
      rowCopy(this.slabs64, slots, u, new Float64Array(undo.buffer, 0, u * pairs), pairs, pairs, shift, mask);
      return undo;
    }
    for (let k = 0; k < u; k++) {
      const r = slots[k];
      const slab = this.slabs[r >>> shift];
      const off = (r & mask) * stride;
      for (let j = 0; j < stride; j++) undo[k * stride + j] = slab[off + j];
    }
    return undo;
  }

  read(r: number, w: Float32Array, wOff: number, s: Float32Array, sOff: number): void {
    const slab = this.slabs[r >>> this.shift];
    const off = (r & this.mask) * this.stride;
    w.set(slab.subarray(off, off + this.dim), wOff);
    s.set(slab.subarray(off + this.dim, off + this.stride), sOff);
  }

  write(r: number, w: Float32Array, wOff: number, s: Float32Array, sOff: number): void {
    const slab = this.slabs[r >>> this.shift];
    const off = (r & this.mask) * this.stride;
    slab.set(w.subarray(wOff, wOff + this.dim), off);
    slab.set(s.subarray(sOff, sOff + this.stateWidth), off + this.dim);
  }

  slabView(s: number): SlabView {
    const slab = this.slabs[s];
    return { weights: slab, wStride: this.stride, state: slab, sOff: this.dim, sStride: this.stride };
  }

  copySlab(s: number): SlabView {
    const slab = this.slabs[s].slice();
    return { weights: slab, wStride: this.stride, state: slab, sOff: this.dim, sStride: this.stride };
  }

  writeStored(r: number, w: Float32Array | Uint16Array, wOff: number, s: Float32Array, sOff: number): void {
    const slab = this.slabs[r >>> this.shift];
    const off = (r & this.mask) * this.stride;
    const { dim, stateWidth } = this;
    for (let j = 0; j < dim; j++) slab[off + j] = w[wOff + j];
    for (let j = 0; j < stateWidth; j++) slab[off + dim + j] = s[sOff + j];
  }
}
