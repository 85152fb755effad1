/**
 * The data plane's hot loops in native code (ADR 0041): the PS's id-index probes and row gathers,
 * the client's id dedup and slicing by owner (one pass) and its row stitching.
 * `native/tessera_rows.c` is a small N-API addon
 * (no dependency beyond the C library) that works in place on the typed arrays the JavaScript
 * already holds, and computes exactly what the JavaScript loops compute; the loops stay as the
 * fallback, so a host without a C compiler runs everything, only slower.
 *
 * Each call site asks `nativeRows(n)` for the kernels and runs its own JavaScript loop when the
 * answer is null: when the addon is not built, when `TESSERA_NATIVE_ROWS=0`, or when `n` (the
 * ids or rows of the call) is below `NATIVE_MIN_ROWS`, where one N-API call costs more than it
 * saves. The choice is process-wide, like the tfjs backend's kernels (ADR 0014); tests and
 * benches flip it with `useNativeRows` to compare both paths.
 *
 * ```ts
 * const k = nativeRows(n);
 * const missing = k ? k.probeIds(slots, scale, ids, n, rows) : jsProbe(ids, n, rows);
 * ```
 */
import * as path from 'node:path';
import { loadAddon } from './native-addon';

/** The addon's exports; each is described in the header of native/tessera_rows.c. */
export interface NativeRows {
  /** `IdIndex.findAll` over `[lo, hi, row + 1]` slots; returns the number of ids absent. */
  probeIds(slots: Uint32Array, scale: number, ids: Uint32Array, n: number, rows: Int32Array): number;
  /** `TaggedIdIndex.findAll`'s first pass over `[tag, row + 1]` slots (matches unconfirmed). */
  probeTags(slots: Uint32Array, scale: number, ids: Uint32Array, n: number, rows: Int32Array): void;
  /** `F32RowSlabs.gather` (rows < 0 skipped); with `dim === stride`, whole rows. */
  gatherF32(slabs: Float32Array[], shift: number, stride: number, rows: Int32Array, n: number, dim: number, out: Float32Array, outOff: number): void;
  /**
   * `probeIds` then `gatherF32` over the rows found, in one pass; rows of absent ids are not
   * written. Returns the number of ids absent.
   */
  probeGatherF32(slots: Uint32Array, scale: number, ids: Uint32Array, n: number, rows: Int32Array,
    slabs: Float32Array[], shift: number, stride: number, dim: number, out: Float32Array, outOff: number): number;
  /** `F16RowSlabs.gather`: fp16 weights decoded to float32 (rows < 0 skipped). */
  gatherF16(slabs: Uint16Array[], shift: number, rows: Int32Array, n: number, dim: number, out: Float32Array, outOff: number): void;
  /**
   * `Deduper.dedupInto` over its table (`slots` slots of 4 words, empty unless stamped `stamp`).
   * Returns the distinct count.
   */
  dedup(ids: Uint32Array, n: number, table: Uint32Array, slots: number, stamp: number, unique: Uint32Array, inverse: Uint32Array): number;
  /**
   * `Deduper.dedupAndSlice`: `dedup`, each distinct id's owner (`owner[bucket]`) to `owners` and
   * `counts` in the same pass, then the slices laid out in `words` (see `slicesIn`). Returns the
   * distinct count.
   */
  dedupSlice(ids: Uint32Array, n: number, table: Uint32Array, slots: number, stamp: number, unique: Uint32Array, inverse: Uint32Array,
    numBuckets: number, owner: Uint16Array, owners: Uint16Array, counts: Uint32Array, words: Uint32Array): number;
  /** Row `k - from` of `src` to row `at[k]` of `dst`, for k in [from, to). */
  copyRowsTo(src: Float32Array, dst: Float32Array, at: Uint32Array | Int32Array, from: number, to: number, dim: number): void;
  /** Row `at[k]` of `src` to row `k - from` of `dst`, for k in [from, to). */
  copyRowsFrom(src: Float32Array, dst: Float32Array, at: Uint32Array | Int32Array, from: number, to: number, dim: number): void;
  /** The index of the first NaN or ±Infinity of `values`, or -1 (`checkFinite`'s scan). */
  firstNonFinite(values: Float32Array): number;
  /** `firstNotOwned` of src/sharding/buckets.ts: the first id whose bucket has `owned[bucket] === 0`, or -1. */
  firstNotOwned(ids: Uint32Array, n: number, owned: Uint8Array): number;
  /** `GradSum.sum` over its scratch (`table[0, 2^bits)` must be -1); returns the distinct rows. */
  sumGrads(rows: Int32Array, n: number, grads: Float32Array, dim: number, table: Int32Array, bits: number, uniq: Int32Array, gsum: Float32Array): number;
  /**
   * `AdagradOptimizer.apply` on f32 rows `slots[0, u)`, each whole row first copied to
   * `undo[k * stride ..]` unless `undo` is empty; returns -1, or the first k whose row is left
   * non-finite (rows up to it stay updated: the caller rolls back from `undo`).
   */
  adagradF32(slabs: Float32Array[], shift: number, stride: number, dim: number, slots: Int32Array, u: number, g: Float32Array, lr: number, eps: number, undo: Float32Array): number;
  /**
   * `AdamOptimizer.apply`'s loop over a whole dense table (`m` in `s[0, n)`, `v` in `s[n, 2n)`,
   * n = `w.length`) with the step's `lrT` already computed, copying the old `w`, `m` and `v` to
   * `undo[0, 3n)` in the same pass; 1, or 0 when a weight or moment was left non-finite (the
   * caller rolls back from `undo`).
   */
  adamDense(w: Float32Array, s: Float32Array, g: Float32Array, undo: Float32Array, beta1: number, beta2: number, eps: number, lrT: number): number;
  /** `IdIndex.rehash`: every entry of the `[lo, hi, row + 1]` slots `old`, in order, into the empty `slots`. */
  rehashIds(old: Uint32Array, slots: Uint32Array, scale: number): void;
  /**
   * `F32RowSlabs.initRows`: row `rows[i]` (i < k) gets the uniform initializer's weights for id
   * `(ids[2i], ids[2i + 1])` and table seed `seed` (a uint32), and `acc` in every state float.
   */
  initUniformF32(slabs: Float32Array[], shift: number, stride: number, dim: number, rows: Int32Array, ids: Uint32Array, k: number, seed: number, scale: number, acc: number): void;
}

/** Where `scripts/build-native.sh` writes the addon, relative to the package root. */
export const NATIVE_ROWS_PATH = path.join('native', 'build', 'tessera_rows.node');

/** Calls over fewer ids or rows than this run the JavaScript loop (an N-API call costs ~0.3 µs). */
export const NATIVE_MIN_ROWS = 16;

/** Loads the addon, or says why it cannot (not built, or built for another platform). */
export function loadNativeRows(file: string = NATIVE_ROWS_PATH): { ok: true; rows: NativeRows } | { ok: false; reason: string } {
  const loaded = loadAddon<NativeRows>(file, 'a C compiler: gcc');
  return loaded.ok ? { ok: true, rows: loaded.addon } : loaded;
}

let loaded: NativeRows | null | undefined;
let enabled = process.env.TESSERA_NATIVE_ROWS !== '0';

function addon(): NativeRows | null {
  if (loaded === undefined) {
    const l = loadNativeRows();
    loaded = l.ok ? l.rows : null;
  }
  return loaded;
}

/** The kernels for a call over `n` ids or rows, or null: run the JavaScript loop. */
export function nativeRows(n: number): NativeRows | null {
  return enabled && n >= NATIVE_MIN_ROWS ? addon() : null;
}

/**
 * Turns the native kernels on or off for this process (tests and benches compare both paths);
 * returns whether they were on. Turning them on without the addon built leaves the JavaScript.
 */
export function useNativeRows(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

/** True when the addon is built and loads here (whether or not it is turned on). */
export function nativeRowsAvailable(): boolean {
  return addon() !== null;
}
