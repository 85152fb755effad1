/**
 * Where an embedding table keeps its rows' bytes. The table owns the id index, admission and
 * eviction; a RowStorage owns only numbered row slots, each holding `dim` weights and the
 * optimizer's `stateWidth` floats of state. Slots live in slabs of `slabRows` rows allocated one
 * at a time, so growth never copies row data and a slot never moves.
 *
 * Two implementations, chosen per table by `weightFormat`:
 * - `F32RowSlabs` (`f32`, the default): `[weights | state]` interleaved float32, gathered as
 *   float64 pairs (the fast path measured by bench:table);
 * - `F16RowSlabs` (`f16`): weights as IEEE half floats, optimizer state kept in float32, so a
 *   row of dim 16 with Adagrad is 96 bytes instead of 128.
 */
import type { Optimizer } from '../optimizers/optimizer';
import type { InitializerConfig } from './initializers';

/** How a table stores weights: `f32`, or `f16` (optimizer state stays float32 either way). */
export type WeightFormat = 'f32' | 'f16';

/** The weight formats this build knows. */
export const WEIGHT_FORMATS: readonly WeightFormat[] = Object.freeze(['f32', 'f16']);

/**
 * One slab's rows as strided arrays (the live slab or a copy): row `i`'s weights are
 * `weights[i*wStride .. +dim)` (float32, or fp16 bits for `f16` tables) and its state is
 * `state[sOff + i*sStride .. +stateWidth)`.
 */
export interface SlabView {
  readonly weights: Float32Array | Uint16Array;
  readonly wStride: number;
  readonly state: Float32Array;
  readonly sOff: number;
  readonly sStride: number;
}

/** Numbered row slots of one table. */
export interface RowStorage {
  readonly format: WeightFormat;
  readonly dim: number;
  readonly stateWidth: number;
  readonly slabRows: number;
  /** Bytes of one row slot (weights and state). */
  readonly rowBytes: number;
  /** Slots allocated so far (a multiple of `slabRows`). */
  readonly allocatedSlots: number;
  /** Bytes of every slab allocated. */
  bytes(): number;
  /** Makes slot `r` addressable, allocating the next slab when `r` is its first slot. */
  ensure(r: number): void;
  /** Fills slot `r` with the initial row of id `(lo, hi)` and the optimizer's initial state. */
  initRow(r: number, lo: number, hi: number, init: InitializerConfig, seed: number, opt: Optimizer): void;
  /**
   * `initRow` for slots `rows[i]` and ids `(ids[2i], ids[2i + 1])`, i < k, in one pass where the
   * storage has one for `init` and `opt` (true); false: nothing written, the caller runs `initRow`.
   */
  initRows(rows: Int32Array, ids: Uint32Array, k: number, init: InitializerConfig, seed: number, opt: Optimizer): boolean;
  /** Copies the weights of slots `rows[0..n)` into `out[outOff..]`; slots < 0 are skipped. */
  gather(rows: Int32Array, n: number, out: Float32Array, outOff: number): void;
  /**
   * Applies gradient row `k` of `g` (rows of `dim`) to slot `slots[k]`, for k in [0, u), all or
   * nothing: returns -1 when every row was updated, or the first k whose update would leave a
   * weight or a state value non-finite (in the stored format), and then no slot has changed.
   * With `undo` false no undo copy is kept, so after a refusal the rows before k stay updated
   * (a replica's replay, whose refusal discards the replica).
   */
  applyRows(opt: Optimizer, slots: Int32Array, u: number, g: Float32Array, undo?: boolean): number;
  /** Copies slot `r` out: weights to `w[wOff..]`, state to `s[sOff..]`. */
  read(r: number, w: Float32Array, wOff: number, s: Float32Array, sOff: number): void;
  /** Overwrites slot `r` with `w[wOff..]` and `s[sOff..]`. */
  write(r: number, w: Float32Array, wOff: number, s: Float32Array, sOff: number): void;
  /** Slab `s` as stored (no copy). */
  slabView(s: number): SlabView;
  /** A copy of slab `s` (a snapshot's copy-on-write). */
  copySlab(s: number): SlabView;
  /**
   * Overwrites slot `r` bit-exactly in the stored format: `w[wOff..]` holds float32 weights for
   * `f32` storage and fp16 bits for `f16`; `s[sOff..]` the state (the restore path).
   */
  writeStored(r: number, w: Float32Array | Uint16Array, wOff: number, s: Float32Array, sOff: number): void;
}
