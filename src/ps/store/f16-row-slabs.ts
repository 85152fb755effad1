/**
 * Half-precision weights with float32 optimizer state: per slab, a Uint16Array of `slabRows × dim`
 * IEEE fp16 weights and a Float32Array of `slabRows × stateWidth` state.
 *
 * An update decodes the row's weights to float32, runs the optimizer exactly as for an f32 table,
 * and rounds the result back to fp16 (round to nearest even). Keeping the accumulators in float32
 * is what keeps Adagrad/Adam/FTRL stable: their state spans many more orders of magnitude than
 * the weights. fp16 has an 11-bit significand, so a weight near 0.05 moves in steps of about 3e-5;
 * updates smaller than half a step are lost. ADR 0010 records the choice of fp16 over bf16 and the
 * measured effect on AUC.
 */
import { nativeRows } from '../../common/native-rows';
import { decodeF16, toHalfBits } from '../../wire/f16';
import type { Optimizer } from '../optimizers/optimizer';
import { InitializerConfig, initRow } from './initializers';
import { rowFinite } from './row-ops';
import type { RowStorage, SlabView } from './row-storage';

const EMPTY_STATE = new Float32Array(0);

/** fp16 weights, float32 state. */
export class F16RowSlabs implements RowStorage {
  readonly format = 'f16' as const;
  readonly rowBytes: number;
  private readonly weights: Uint16Array[] = [];
  private readonly states: Float32Array[] = [];
  private readonly shift: number;
  private readonly mask: number;
  /** One row of weights (and of state, for stateless optimizers) in float32, for updates. */
  private readonly w32: Float32Array;
  private readonly s32: Float32Array;
  /** The rows a push is updating, as they were (its all-or-nothing rollback). */
  private undoW = new Uint16Array(0);
  private undoS = new Float32Array(0);

  /** `slabRows` must be a power of two (the table validates it). */
  constructor(readonly dim: number, readonly stateWidth: number, readonly slabRows: number) {
    this.rowBytes = dim * 2 + stateWidth * 4;
    this.shift = Math.log2(slabRows);
    this.mask = slabRows - 1;
    this.w32 = new Float32Array(dim);
    this.s32 = new Float32Array(Math.max(1, stateWidth));
  }

  get allocatedSlots(): number {
    return this.weights.length * this.slabRows;
  }

  bytes(): number {
    return this.weights.length * this.slabRows * this.rowBytes;
  }

  ensure(r: number): void {
    while (r >>> this.shift >= this.weights.length) {
      this.weights.push(new Uint16Array(this.slabRows * this.dim));
      this.states.push(new Float32Array(this.slabRows * this.stateWidth));
    }
  }

  initRow(r: number, lo: number, hi: number, init: InitializerConfig, seed: number, opt: Optimizer): void {
    const { w32, dim } = this;
    initRow(init, seed, lo, hi, w32, 0, dim);
    this.storeWeights(r, w32);
    // Optimizers initialise state from the float32 weights (FTRL derives z from w); the stored
    // fp16 weights may differ from them by half a step, as every later update's rounding does.
    const [s, sOff] = this.stateOf(r);
    opt.initState(w32, 0, s, sOff, dim);
  }

  /** No batch pass for fp16 rows: `initRow` one by one. */
  initRows(): boolean {
    return false;
  }

  gather(rows: Int32Array, n: number, out: Float32Array, outOff: number): void {
    const k = nativeRows(n);
    if (k) {
      k.gatherF16(this.weights, this.shift, rows, n, this.dim, out, outOff);
      return;
    }
    for (let i = 0; i < n; i++) if (rows[i] >= 0) this.decodeRow(rows[i], out, outOff + i * this.dim);
  }

  /**
   * Updates each row (weights decoded to float32, state in place) after saving its fp16 weights
   * and its state to an undo log, and checks what was stored: a weight beyond fp16's range
   * rounds to ±Infinity (exponent bits all ones), so finite float32 results can still be refused.
   * On the first bad row every row updated so far is put back (all or nothing).
   */
  applyRows(opt: Optimizer, slots: Int32Array, u: number, g: Float32Array, keepUndo = true): number {
    const { dim, w32 } = this;
    const sw = this.stateWidth;
    if (this.undoW.length < u * dim) this.undoW = new Uint16Array(u * dim);
    if (this.undoS.length < u * sw) this.undoS = new Float32Array(u * sw);
    const { undoW, undoS } = this;
    for (let k = 0; k < u; k++) {
      const r = slots[k];
      const [s, sOff] = this.stateOf(r);
      const wts = this.weights[r >>> this.shift];
      const wOff = (r & this.mask) * dim;
      // Element loops, not set(subarray()): a subarray is an object allocated per row.
      if (keepUndo) {
        for (let j = 0; j < dim; j++) undoW[k * dim + j] = wts[wOff + j];
        for (let j = 0; j < sw; j++) undoS[k * sw + j] = s[sOff + j];
      }
      this.decodeRow(r, w32, 0);
      opt.apply(w32, 0, s, sOff, g, k * dim, dim);
      this.storeWeights(r, w32);
      let bad = 0;
      for (let j = 0; j < dim; j++) bad |= (wts[wOff + j] & 0x7c00) === 0x7c00 ? 1 : 0;
      if (bad !== 0 || !rowFinite(s, sOff, sw)) {
        if (keepUndo) for (let b = 0; b <= k; b++) this.writeStored(slots[b], undoW, b * dim, undoS, b * sw);
        return k;
      }
    }
    return -1;
  }

  read(r: number, w: Float32Array, wOff: number, s: Float32Array, sOff: number): void {
    this.decodeRow(r, w, wOff);
    const [st, stOff] = this.stateOf(r);
    s.set(st.subarray(stOff, stOff + this.stateWidth), sOff);
  }

  write(r: number, w: Float32Array, wOff: number, s: Float32Array, sOff: number): void {
    this.storeWeights(r, w.subarray(wOff, wOff + this.dim));
    const [st, stOff] = this.stateOf(r);
    st.set(s.subarray(sOff, sOff + this.stateWidth), stOff);
  }

  slabView(s: number): SlabView {
    const sw = this.stateWidth;
    return { weights: this.weights[s], wStride: this.dim, state: sw === 0 ? EMPTY_STATE : this.states[s], sOff: 0, sStride: sw };
  }

  copySlab(s: number): SlabView {
    const sw = this.stateWidth;
    return { weights: this.weights[s].slice(), wStride: this.dim, state: sw === 0 ? EMPTY_STATE : this.states[s].slice(), sOff: 0, sStride: sw };
  }

  writeStored(r: number, w: Float32Array | Uint16Array, wOff: number, s: Float32Array, sOff: number): void {
    const { dim } = this;
    const dst = this.weights[r >>> this.shift];
    const off = (r & this.mask) * dim;
    for (let j = 0; j < dim; j++) dst[off + j] = w[wOff + j];
    const [st, stOff] = this.stateOf(r);
    for (let j = 0; j < this.stateWidth; j++) st[stOff + j] = s[sOff + j];
  }

  /** Slot `r`'s weights as float32 into `w[wOff..]`. */
  private decodeRow(r: number, w: Float32Array, wOff: number): void {
    decodeF16(this.weights[r >>> this.shift], w, (r & this.mask) * this.dim, wOff, this.dim);
  }

  private storeWeights(r: number, w: Float32Array): void {
    const dim = this.dim;
    const dst = this.weights[r >>> this.shift];
    const off = (r & this.mask) * dim;
    for (let j = 0; j < dim; j++) dst[off + j] = toHalfBits(w[j]);
  }

  /** The state region of slot `r`; a scratch row for optimizers without state (SGD). */
  private stateOf(r: number): [Float32Array, number] {
    if (this.stateWidth === 0) return [this.s32, 0];
    return [this.states[r >>> this.shift], (r & this.mask) * this.stateWidth];
  }
}
