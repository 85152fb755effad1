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

/** One changed id: its weights, or null for a tombstone; `next` chains ids with the same low half. */
interface Entry {
  hi: number;
  w: Float32Array | null;
  next: Entry | undefined;
}

/** An immutable set of changed ids (built once, then only read). */
class Layer {
  private readonly byLo = new Map<number, Entry>();
  size = 0;

  get(lo: number, hi: number): Entry | undefined {
    for (let e = this.byLo.get(lo); e; e = e.next) if (e.hi === hi) return e;
    return undefined;
  }

  /** Sets id (lo, hi); only while the layer is being built. */
  set(lo: number, hi: number, w: Float32Array | null): void {
    const hit = this.get(lo, hi);
    if (hit) {
      hit.w = w;
      return;
    }
    this.byLo.set(lo, { hi, w, next: this.byLo.get(lo) });
    this.size++;
  }

  /** Calls `fn` for every id of the layer. */
  forEach(fn: (lo: number, hi: number, w: Float32Array | null) => void): void {
    for (const [lo, head] of this.byLo) for (let e: Entry | undefined = head; e; e = e.next) fn(lo, e.hi, e.w);
  }

  /** The layers `older` then `newer` as one (newer ids win). */
  static merge(older: Layer, newer: Layer): Layer {
    const out = new Layer();
    older.forEach((lo, hi, w) => out.set(lo, hi, w));
    newer.forEach((lo, hi, w) => out.set(lo, hi, w));
    return out;
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
      const top = new Layer();
      const n = t.ids.length >>> 1;
      for (let i = 0; i < n; i++) top.set(t.ids[2 * i], t.ids[2 * i + 1], t.weights.subarray(i * t.dim, (i + 1) * t.dim));
      for (let i = 0; i < t.tombstones.length; i += 2) top.set(t.tombstones[i], t.tombstones[i + 1], null);
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
        const e = l.get(lo, hi);
        if (!e) continue;
        if (e.w) out.set(e.w, i * dim);
        else removed.push(i);
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
