/**
 * One model version in memory, ready to predict: its job spec, its model parts (the training
 * code's feature transform and model), its rows in a TableStore (hot rows in RAM, cold rows in
 * its own disk tier when the server has a memory budget) and its dense weights.
 *
 * **References.** Every request holds the version it started on (`acquire` … `release`) until
 * its answer is computed. A version that is swapped out or unloaded is `retire`d: new requests
 * no longer reach it, and its memory and disk tier are released when the last request holding it
 * ends. So a hot swap never fails or changes a request in flight.
 *
 * **Delta versions.** A version built from a delta shares the rows of the full version it
 * descends from (its row owner) and adds a `RowOverlay` of the rows changed since (row-overlay.ts).
 * The owner's disk tier is released only once the owner and every version sharing its rows are
 * released.
 */
import type { RawRow } from '../spec/transform';
import type { JobSpec } from '../spec/types';
import type { ModelManifest } from '../export/model-dir';
import type { ModelParts } from '../infer/model-parts';
import type { TableStore } from '../ps/store/table-store';
import { RowOverlay } from './row-overlay';

/** Most rows one coalesced forward runs (a larger single call runs alone). */
const MAX_COALESCED_ROWS = 1024;

/** What a version was loaded from and how long it took. */
export interface VersionOrigin {
  /** the version's directory in the model root */
  dir: string;
  manifest: ModelManifest;
  /** wall-clock time the version became servable (ms since the epoch) */
  loadedAt: number;
  loadSeconds: number;
  /** mtime of its model.json when loaded: a different one on disk means other weights under this number */
  stamp: number;
}

/** Rows of a version: resident in RAM, and on its disk tier. */
export interface VersionRows {
  resident: number;
  disk: number;
  /** rows loaded back from the disk tier since the version was loaded */
  reloads: number;
  /** ids changed or removed by deltas over the full version whose rows it shares (0 for a full version) */
  overlay: number;
}

/** A servable model version; see the file comment. */
export class LoadedVersion {
  private refs = 0;
  private readonly waiting: { rows: readonly RawRow[]; resolve: (p: Float32Array) => void; reject: (err: unknown) => void }[] = [];
  private computing = false;
  private retired = false;
  private isReleased = false;
  /** Versions built from deltas that share this version's rows and are not released yet. */
  private rowShares = 0;
  private modelDisposed = false;
  private markReleased!: () => void;
  /** Resolves once the version is released (retired, no request holding it, its tier closed). */
  readonly released = new Promise<void>((resolve) => { this.markReleased = resolve; });

  /**
   * @param release frees what the version holds beyond the JS heap (its disk tier); called once,
   *   when the version is retired and no request holds it
   */
  constructor(
    readonly name: string,
    readonly version: number,
    readonly spec: JobSpec,
    readonly parts: ModelParts,
    /** Its base rows, shared with the versions built from deltas on it: read-only once constructed. */
    readonly store: TableStore,
    private readonly dense: Float32Array,
    readonly origin: VersionOrigin,
    private readonly release: () => Promise<void> | void,
    /** The rows deltas changed over `store` (none for a full version). */
    readonly overlay: RowOverlay = RowOverlay.EMPTY,
    /** The version that owns `store` (itself for a full version). */
    readonly rowOwner?: LoadedVersion,
  ) {}

  /**
   * Takes a share in this version's rows for a version built from a delta on it: the rows' owner
   * keeps its disk tier until the returned function is called (pass it as the new version's release).
   */
  shareRows(): { owner: LoadedVersion; release: () => void } {
    const owner = this.rowOwner ?? this;
    owner.rowShares++;
    let done = false;
    return {
      owner,
      release: () => {
        if (done) return;
        done = true;
        owner.rowShares--;
        owner.releaseIfIdle();
      },
    };
  }

  /** Requests holding this version now. */
  get inFlight(): number {
    return this.refs;
  }

  /** True once retired (no new request reaches it). */
  get isRetired(): boolean {
    return this.retired;
  }

  /** Holds the version for one request; pair with `unhold`. */
  hold(): this {
    this.refs++;
    return this;
  }

  /** Ends one request's hold; the last one of a retired version releases it. */
  unhold(): void {
    this.refs--;
    this.releaseIfIdle();
  }

  /** Takes the version out of service; it is released once no request holds it. */
  retire(): void {
    this.retired = true;
    this.releaseIfIdle();
  }

  /**
   * Click probabilities of `rows` (raw values, in the format's schema order), computed as
   * evaluation computes them: the feature transform, rows read without inserting (absent ids get
   * their table's cold-start value; spilled rows come back from disk), then the model's forward.
   *
   * Calls that arrive while a forward is running are coalesced: when it ends, all of them run as
   * one batch (up to MAX_COALESCED_ROWS rows), each getting its own rows' answers. A model's
   * forward costs little more for 8 rows than for 1, so 8 concurrent batch-1 requests cost about
   * one forward instead of 8, and none waits for a timer. Rows are independent in every model, so
   * a row's answer does not depend on what it was batched with.
   */
  predict(rows: readonly RawRow[]): Promise<Float32Array> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ rows, resolve, reject });
      if (!this.computing) void this.drain();
    });
  }

  /** Runs the waiting calls, coalesced, until none is left. */
  private async drain(): Promise<void> {
    this.computing = true;
    while (this.waiting.length > 0) {
      let n = 0;
      let k = 0;
      while (k < this.waiting.length && (k === 0 || n + this.waiting[k].rows.length <= MAX_COALESCED_ROWS)) n += this.waiting[k++].rows.length;
      const calls = this.waiting.splice(0, k);
      try {
        const probs = await this.forward(calls.length === 1 ? calls[0].rows : calls.flatMap((c) => c.rows));
        let at = 0;
        for (const c of calls) {
          c.resolve(probs.subarray(at, at + c.rows.length));
          at += c.rows.length;
        }
      } catch (err) {
        // One call's bad rows must not fail the others: each is retried alone for its own answer.
        if (calls.length === 1) calls[0].reject(err);
        else for (const c of calls) await this.forward(c.rows).then(c.resolve, c.reject);
      }
    }
    this.computing = false;
  }

  private async forward(rows: readonly RawRow[]): Promise<Float32Array> {
    const { transformer, layout, model } = this.parts;
    const tb = transformer.transformBatch(rows);
    const pulled = await layout.read(tb, (table, ids) => this.readRows(table, ids));
    return model.predict(this.dense, layout.inputs(tb, pulled));
  }

  /**
   * The weights this version serves for `ids` ([2n] id halves) of embedding table `table`, [n * dim]:
   * the base rows with the overlay's changes; absent and removed ids read their cold-start value.
   */
  readRows(table: string, ids: Uint32Array): Float32Array {
    const t = this.store.getEmbedding(table);
    const out = new Float32Array((ids.length >>> 1) * t.dim);
    t.lookup(ids, out);
    this.overlay.patch(table, ids, out);
    return out;
  }

  /** Rows in RAM and on disk, over every embedding table. */
  rows(): VersionRows {
    const out: VersionRows = { resident: 0, disk: 0, reloads: 0, overlay: this.overlay.rows };
    for (const t of this.store.list()) {
      if (t.kind !== 'embedding') continue;
      out.resident += t.rows;
      out.disk += t.memory?.tier?.rows ?? 0;
      out.reloads += t.memory?.tier?.hits ?? 0;
    }
    return out;
  }

  /** Disposes the model once retired and idle; releases the rows too once no delta version shares them. */
  private releaseIfIdle(): void {
    if (!this.retired || this.refs > 0 || this.isReleased) return;
    if (!this.modelDisposed) {
      this.modelDisposed = true;
      this.parts.model.dispose();
    }
    if (this.rowShares > 0) return;
    this.isReleased = true;
    void Promise.resolve().then(this.release).catch(() => undefined).then(this.markReleased);
  }
}
