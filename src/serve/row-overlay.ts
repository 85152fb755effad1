/**
 * The rows a delta version changed on top of the full version it descends from (its base), per
 * embedding table: a stack of immutable layers, newest first, each mapping an id to its new
 * weights or to a tombstone. A read looks the ids up in the base, then lets the newest layer that
 * holds an id override it (a tombstone reads as the table's cold-start value).
 *
 * Applying a delta of k rows builds one new layer of k rows and a new stack sharing the old
 * layers, so the cost scales with the rows the delta changes, not with the rows resident, and the
 * version it was applied on is never modified (its readers keep seeing it whole). To keep reads
 * to a few map lookups per id, layers merge as in a log-structured merge tree: while the newest
 * layer is at least as large as the one below it, the two are merged into one new layer. A stack
 * so holds O(log) layers, and each changed row is copied O(log) times over its life; the stack is
 * dropped when the stream resynchronises on the next full version (docs/adr/0028-serve-follow.md).
 *
 * ```ts
 * const { overlay, copied } = RowOverlay.EMPTY.with([{ name: 'user', dim: 16, ids, weights, tombstones }], cold);
 * base.getEmbedding('user').lookup(ids, out);
 * overlay.patch('user', ids, out);
 * ```
 */
import type { EmbeddingTable } from '../ps/store/embedding-table';

/** Most layers a table's stack holds; a delta that would exceed it merges the whole stack. */
export const MAX_LAYERS = 8;

/** Rows offered to a layer being built: ids, their weights (null: all tombstones) and tombstone flags. */
interface LayerSource {
  ids: Uint32Array;
  weights: Float32Array | null;
  removed?: Uint8Array;
}

/** The slot of id (lo, hi) to probe first in an index of `mask + 1` slots. */
function slotOf(lo: number, hi: number, mask: number): number {
  let h = Math.imul(lo, 0x9e3779b1) ^ Math.imul(hi ^ (lo >>> 16), 0x85ebca6b);
  h ^= h >>> 15;
  return h & mask;
}

/**
 * An immutable set of changed ids, built once, then only read. Flat typed arrays (ids, weights,
 * tombstone flags) and an open-addressing index of row numbers: no object per row, so a stack of
 * a million changed rows costs the garbage collector nothing to trace (one object per row did:
 * whole seconds of marking per delta at that size, on a loaded machine tens of seconds).
 */
class Layer {
  private constructor(
    private readonly ids: Uint32Array,
    private readonly weights: Float32Array,
    private readonly removed: Uint8Array,
    /** row + 1 per slot, 0 when empty; a power of two, at least twice the rows */
    private readonly slots: Int32Array,
    readonly size: number,
    private readonly dim: number,
  ) {}

  /** The row of id (lo, hi), or -1. */
  find(lo: number, hi: number): number {
    const mask = this.slots.length - 1;
    for (let s = slotOf(lo, hi, mask); ; s = (s + 1) & mask) {
      const r = this.slots[s] - 1;
      if (r < 0 || (this.ids[2 * r] === lo && this.ids[2 * r + 1] === hi)) return r;
    }
  }

  /** True when row `r` is a tombstone. */
  isRemoved(r: number): boolean {
    return this.removed[r] === 1;
  }

  /** Copies row `r`'s weights into `out` at `at`. */
  copyRow(r: number, out: Float32Array, at: number): void {
    const { dim, weights } = this;
    for (let k = 0, from = r * dim; k < dim; k++) out[at + k] = weights[from + k];
  }

  /** A layer of `sources`' rows, a later source's row replacing an earlier one's of the same id. */
  static build(dim: number, sources: readonly LayerSource[]): Layer {
    const most = sources.reduce((n, x) => n + (x.ids.length >>> 1), 0);
    let cap = 16;
    while (cap < 2 * most) cap *= 2;
    const slots = new Int32Array(cap);
    const ids = new Uint32Array(2 * most);
    const weights = new Float32Array(most * dim);
    const removed = new Uint8Array(most);
    let size = 0;
    for (const src of sources) {
      for (let i = 0, n = src.ids.length >>> 1; i < n; i++) {
        const lo = src.ids[2 * i];
        const hi = src.ids[2 * i + 1];
        let s = slotOf(lo, hi, cap - 1);
        while (slots[s] !== 0 && !(ids[2 * (slots[s] - 1)] === lo && ids[2 * (slots[s] - 1) + 1] === hi)) s = (s + 1) & (cap - 1);
        let r = slots[s] - 1;
        if (r < 0) {
          r = size++;
          slots[s] = r + 1;
          ids[2 * r] = lo;
          ids[2 * r + 1] = hi;
        }
        const gone = src.weights === null || src.removed?.[i] === 1;
        removed[r] = gone ? 1 : 0;
        if (gone) continue;
        const w = src.weights!;
        for (let k = 0; k < dim; k++) weights[r * dim + k] = w[i * dim + k];
      }
    }
    return new Layer(ids.slice(0, 2 * size), weights.slice(0, size * dim), removed.slice(0, size), slots, size, dim);
  }

  /** The layers `older` then `newer` as one (newer ids win). */
  static merge(older: Layer, newer: Layer): Layer {
    return Layer.build(older.dim, [older.source(), newer.source()]);
  }

  private source(): LayerSource {
    return { ids: this.ids, weights: this.weights, removed: this.removed };
  }
}

/** One table's changes in a delta (the shape of a delta file's table). */
export interface TableChanges {
  name: string;
  dim: number;
  /** [2n] id halves of the changed rows */
  ids: Uint32Array;
  /** [n * dim] their weights */
  weights: Float32Array;
  /** [2m] id halves of the removed rows */
  tombstones: Uint32Array;
}

/** A table's stack: its layers, newest first, and an empty table that reads cold-start values. */
interface TableStack {
  layers: readonly Layer[];
  dim: number;
  cold: EmbeddingTable;
}

/** The changed rows of a version over its base; see the file comment. */
export class RowOverlay {
  /** The overlay of a full version: nothing changed. */
  static readonly EMPTY = new RowOverlay(new Map());

  private constructor(private readonly stacks: ReadonlyMap<string, TableStack>) {}

  /** Ids changed or removed over the base, over every table (an id counted once per layer). */
  get rows(): number {
    let n = 0;
    for (const s of this.stacks.values()) for (const l of s.layers) n += l.size;
    return n;
  }

  /** Layers of table `name` (0 when unchanged). */
  depth(name: string): number {
    return this.stacks.get(name)?.layers.length ?? 0;
  }

  /**
   * This overlay with `changes` applied on top, as a new overlay (this one is not modified).
   * @param cold an empty table of each changed table's spec, for its cold-start values
   * @returns the overlay and the rows written into new layers (the work done: the delta's rows,
   *   plus those of any layers merged)
   */
  with(changes: readonly TableChanges[], cold: (name: string) => EmbeddingTable): { overlay: RowOverlay; copied: number } {
    const stacks = new Map(this.stacks);
    let copied = 0;
    for (const t of changes) {
      const top = Layer.build(t.dim, [{ ids: t.ids, weights: t.weights }, { ids: t.tombstones, weights: null }]);
      copied += top.size;
      const prev = stacks.get(t.name);
      const layers = [top, ...(prev?.layers ?? [])];
      while (layers.length > 1 && (layers[0].size >= layers[1].size || layers.length > MAX_LAYERS)) {
        const merged = Layer.merge(layers[1], layers[0]);
        copied += merged.size;
        layers.splice(0, 2, merged);
      }
      stacks.set(t.name, { layers, dim: t.dim, cold: prev?.cold ?? cold(t.name) });
    }
    return { overlay: new RowOverlay(stacks), copied };
  }

  /**
   * Overrides, in `out` ([n * dim] as the base read them), the rows of `ids` that this overlay
   * changed: new weights, or the cold-start value for a removed row.
   */
  patch(name: string, ids: Uint32Array, out: Float32Array): void {
    const s = this.stacks.get(name);
    if (!s) return;
    const { layers, dim } = s;
    const removed: number[] = [];
    for (let i = 0, n = ids.length >>> 1; i < n; i++) {
      const lo = ids[2 * i];
      const hi = ids[2 * i + 1];
      for (const l of layers) {
        const r = l.find(lo, hi);
        if (r < 0) continue;
        if (l.isRemoved(r)) removed.push(i);
        else l.copyRow(r, out, i * dim);
        break;
      }
    }
    if (removed.length === 0) return;
    const gone = new Uint32Array(2 * removed.length);
    removed.forEach((i, k) => gone.set(ids.subarray(2 * i, 2 * i + 2), 2 * k));
    const fresh = new Float32Array(removed.length * dim);
    s.cold.peek(gone, fresh);
    removed.forEach((i, k) => out.set(fresh.subarray(k * dim, (k + 1) * dim), i * dim));
  }
}
