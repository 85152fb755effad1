/**
 * The primary half of buddy replication (issue 17), free of transport: records the pushes
 * applied here, with each push's dedup identity, and cuts them into batches for the buddy. A
 * push to a table with neither admission nor eviction is shipped as it was applied (ids and
 * gradients, in apply order: the buddy applies it with the same optimizer and gets the same
 * bits); for other tables, and while a full copy is still being sent, the log keeps the ids, and
 * a cut reads those rows *after apply* (weights and optimizer state) for the buddy to overwrite.
 * Either way the buddy's replica after batch k is this PS's tables at the cut of batch k: what a
 * kill loses is what was applied after the newest batch the buddy acknowledged, which is what
 * `lagSeconds` measures (docs/control-plane.md, "Failover with a buddy replica").
 *
 * ```ts
 * const log = new ReplicationLog(node, { primaryId: 3 });
 * node.onApplied = (t, ids, c, s, r, g) => log.applied(t, ids, c, s, r, g);
 * const batch = log.cut(16_384);        // undefined when nothing changed
 * if (batch) send(batch).then(() => log.acked(batch), () => log.failed(batch));
 * ```
 */
import { encodeChunk } from '../../checkpoint/chunk-format';
import { bucketOf } from '../../sharding/buckets';
import { denseBucket } from '../../sharding/dense-bucket';
import { Deduper } from '../../sharding/dedup';
import { encodeF16 } from '../../wire/f16';
import type { PsNode } from '../ps-node';
import { DenseTable } from '../store/dense-table';
import { EmbeddingTable } from '../store/embedding-table';
import type { TableSpec } from '../store/table-store';
import { encodeApplied, scrambledOrder } from './applied-pushes';
import { ProtoWriter } from '../../wire/proto-bytes';
import { ReplicatedMeta } from './replicated-meta';
import { ReplicatedWindows } from './replicated-windows';
import { writeShippedPush } from './shipped-pushes';
import { SpilledCopy, walkSlice } from './spilled-copy';

/** One batch for the buddy (the fields of tessera.v1.ReplicaBatch). */
export interface ReplicaBatch {
  primaryId: number;
  batchSeq: number;
  /** The buddy drops what it holds of this primary first (a new buddy, or a resync). */
  reset: boolean;
  /** Checkpoint-format chunks (`tombstones`, `rows` with their `meta`, `dense`, `sketch`), concatenated. */
  chunks: Buffer;
  /** Pushes applied since the previous batch, in apply order (shipped-pushes.ts). */
  pushes: Uint8Array[];
  /**
   * On the primary: the same pushes already written as the message's field `pushes`, the first
   * `pushesBytes` bytes of this writer, for the Replicate encoder to finish the message in place
   * (replicate-request.ts). Absent on a batch decoded by the buddy.
   */
  pushesWire?: ProtoWriter;
  pushesBytes?: number;
  /** This PS's spec of every table the chunks and pushes name. */
  specs: TableSpec[];
  /** The dedup identities of the pushes whose rows this batch completes (applied-pushes.ts); after a reset, every own window's too. */
  applied: Buffer;
  /** The same, of the windows this PS inherited (replicated-windows.ts). */
  inherited: Buffer;
  /** Pushes applied on the primary up to this batch's cut (set on the batch that completes a cut). */
  pushesApplied: number;
  /** Wall-clock ms of the newest push this batch completes (0: none). */
  appliedAtMs: number;
  /** True on the last batch of a cut: the buddy then holds every push up to `pushesApplied`. */
  complete: boolean;
  rows: number;
  /** Monotonic ms of the oldest push this batch completes (the lag it clears once acknowledged). */
  oldestMs: number;
}

/** Pending ids (rows or shipped pushes' rows) above this are dropped for a resync (the buddy is unreachable for long). */
const MAX_PENDING_IDS = 1 << 24;

/** The ReplicaBatch field shipped pushes are written as (tessera.v1.ReplicaBatch `pushes`). */
const PUSHES_FIELD = 10;

/** A shipped-push buffer starts this large; one grown past the largest kept is not reused. */
const WIRE_INITIAL_BYTES = 1 << 20;
const WIRE_KEPT_BYTES = 64 << 20;

interface Pending {
  ids: Uint32Array;
  n: number;
}

/** The primary's replication state. */
export class ReplicationLog {
  readonly primaryId: number;
  private pending = new Map<string, Pending>();
  /**
   * Pushes to ship, in apply order, written once into `wire` as the batch message's `pushes`
   * (views of each in `shipped`), and their rows. The buffer of the batch before the one in
   * flight is reused (`spare`): a batch's buffer is sent as it is, and the steady stream of
   * multi-megabyte buffers per batch otherwise drives the V8 collector (ADR 0037, amendment 3).
   */
  private shipped: Uint8Array[] = [];
  private wire = new ProtoWriter(Buffer.allocUnsafe(WIRE_INITIAL_BYTES));
  private spare: ProtoWriter | null = null;
  private shippedRows = 0;
  private shippedTables = new Set<string>();
  /** Per table (by name and incarnation): may its pushes be shipped (no admission, no eviction)? */
  private readonly shippable = new Map<string, { incarnation: number; ok: boolean }>();
  private dense = new Set<string>();
  /** Ids eviction dropped since the previous cut, by table (lo, hi pairs). */
  private dropped = new Map<string, number[]>();
  private readonly dropHooks = new Map<string, (lo: number, hi: number) => void>();
  /** Admission counters and eviction metadata that go with the rows (replicated-meta.ts). */
  private readonly meta = new ReplicatedMeta();
  /** The dedup windows beyond the pushes' identities: inherited ones, and all after a reset. */
  private readonly windows = new ReplicatedWindows();
  private clients: bigint[] = [];
  private seqs: number[] = [];
  private acks: number[] = [];
  private pushes = 0;
  private newestAtMs = 0;
  /** Monotonic ms of the oldest push applied and not in a batch yet; Infinity: none. */
  private oldestPendingMs = Infinity;
  /** Same, of the batch in flight (Infinity: none). */
  private oldestInFlightMs = Infinity;
  /** The identities of the batch in flight, put back if it fails. */
  private inFlight: { clients: bigint[]; seqs: number[]; acks: number[] } | null = null;
  private batchSeq = 0;
  private resetNext = true;
  private resyncAtCut = false;
  private readonly dedup = new Deduper();
  private readonly now: () => number;
  /** A full copy's walks over the disk tiers (spilled-copy.ts). */
  private readonly spilled: SpilledCopy;

  constructor(private readonly node: PsNode, opts: { primaryId: number; now?: () => number }) {
    this.primaryId = opts.primaryId;
    this.now = opts.now ?? (() => performance.now());
    this.spilled = new SpilledCopy(node, (table, id) => this.append(table, id));
    this.resync();
  }

  /** Stops watching the tables (replication to this buddy ended). */
  close(): void {
    this.spilled.stop();
  }

  /**
   * Records one applied push: its table, ids (null: a dense table), identity, answer and
   * gradients (absent: only its rows are recorded, to be read at the cut).
   */
  applied(table: string, ids: Uint32Array | null, clientId: bigint | undefined, seq: number | undefined, rows: number, grads?: Float32Array): void {
    if (this.oldestPendingMs === Infinity) this.oldestPendingMs = this.now();
    this.newestAtMs = Date.now();
    this.pushes++;
    if (clientId && seq) {
      this.clients.push(clientId);
      this.seqs.push(seq);
      this.acks.push(rows);
    }
    if (ids === null) {
      this.dense.add(table);
      return;
    }
    // Rows of the table still pending (a full copy under way) are read at a cut, after this push:
    // shipping it as well would apply it twice on the buddy.
    if (grads && !this.pending.has(table) && this.canShip(table)) {
      this.shipped.push(writeShippedPush(this.wire, PUSHES_FIELD, table, ids, grads));
      this.shippedTables.add(table);
      this.shippedRows += ids.length >>> 1;
      if (this.shippedRows > MAX_PENDING_IDS) this.resync();
      return;
    }
    this.append(table, ids);
  }

  /** Row ids waiting for the next batch (repeats included), of rows and of shipped pushes. */
  get pendingIds(): number {
    let n = this.shippedRows;
    for (const p of this.pending.values()) n += p.n;
    return n;
  }

  /** True while a full copy is still walking a disk tier: the sender goes on without waiting for its timer. */
  get walkingTier(): boolean {
    return this.spilled.running;
  }

  /**
   * Seconds since the oldest push applied here that the buddy has not acknowledged yet; 0 when
   * it holds every one. A kill now loses exactly the pushes of that interval.
   */
  lagSeconds(): number {
    const oldest = Math.min(this.oldestPendingMs, this.oldestInFlightMs);
    return oldest === Infinity ? 0 : (this.now() - oldest) / 1000;
  }

  /**
   * Marks every row of the buckets this PS owns, and every dense table it owns, as changed: the
   * next batches copy them whole, the first with `reset`. Resident rows are listed now; rows on
   * the disk tier are walked a slice per batch (spilled-copy.ts). For a new buddy, and after a
   * batch was lost.
   */
  resync(): void {
    this.pending = new Map();
    this.dense = new Set();
    this.dropped = new Map();
    this.meta.reset();
    this.windows.reset();
    this.watchDrops();
    this.clearShipped();
    this.resetNext = true;
    this.spilled.start();
    const owned = this.node.ownedBuckets;
    const nb = this.node.bucketCount;
    for (const info of this.node.store.list()) {
      const t = this.node.store.get(info.name);
      if (t instanceof DenseTable) {
        if (owned === null || owned[denseBucket(t.name, nb)] === 1) this.dense.add(t.name);
        continue;
      }
      const one = new Uint32Array(2);
      t.forEachRow((lo, hi) => {
        if (owned !== null && owned[bucketOf(lo, hi, nb)] === 0) return;
        one[0] = lo;
        one[1] = hi;
        this.append(t.name, one);
      });
    }
    if (this.oldestPendingMs === Infinity) this.oldestPendingMs = this.now();
  }

  /**
   * Cuts the next batch of at most about `maxRows` rows (whole tables' pending rows go together
   * unless one alone is larger), reading each row as it is now. Undefined when nothing is pending.
   * One batch at a time: call `acked` or `failed` before the next cut.
   */
  cut(maxRows: number): ReplicaBatch | undefined {
    if (this.resyncAtCut) {
      const oldest = this.oldestPendingMs;
      this.resyncAtCut = false;
      this.resync();
      this.oldestPendingMs = Math.min(oldest, this.oldestPendingMs);
    }
    this.watchDrops();
    if (this.pending.size === 0 && this.dense.size === 0 && this.shipped.length === 0 && !this.resetNext && this.clients.length === 0 && this.dropped.size === 0 && !this.windows.pending(this.node.dedup) && !this.spilled.running) return undefined;
    const parts: Buffer[] = [];
    const named = new Set(this.shippedTables);
    // Evicted rows first, as tombstones: the buddy deletes them, then writes rows (one evicted
    // and created again since comes back with them), so a promoted replica resurrects none.
    for (const [name, ids] of this.dropped) {
      parts.push(...encodeChunk({ kind: 'tombstones', weightFormat: 'f32', table: name, dim: 0, stateWidth: 0, rows: ids.length >>> 1, bucketStart: 0, bucketEnd: 0 }, Uint32Array.from(ids), new Float32Array(0), new Float32Array(0)));
      named.add(name);
    }
    this.dropped.clear();
    // Shipped pushes do not count against `maxRows` here: a batch always takes a pending table,
    // or pushes arriving meanwhile would keep a full copy from ever completing (and the
    // identities of the pushes the buddy holds from ever reaching it).
    let rows = 0;
    for (const [name, p] of this.pending) {
      if (rows > 0 && rows + p.n > maxRows) break;
      this.pending.delete(name);
      if (this.node.store.has(name)) rows += this.encodeRows(this.node.store.getEmbedding(name), p, parts);
      named.add(name);
    }
    rows += this.encodeWalks(maxRows, rows, parts, named);
    rows += this.shippedRows;
    for (const name of this.dense) {
      const t = this.node.store.has(name) ? this.node.store.get(name) : undefined;
      if (t instanceof DenseTable) parts.push(...encodeChunk({ kind: 'dense', weightFormat: 'f32', table: name, dim: t.size, stateWidth: t.state.length, rows: 1, bucketStart: 0, bucketEnd: 0 }, new Uint32Array(0), t.pull(), t.state));
      named.add(name);
    }
    this.dense.clear();
    const owned = this.node.ownedBuckets ?? new Uint8Array(this.node.bucketCount).fill(1);
    for (const info of this.node.store.list()) {
      const t = this.node.store.get(info.name);
      if (!(t instanceof EmbeddingTable) || !t.admission) continue;
      const sketch = this.meta.sketches(t, owned);
      if (sketch.length > 0) named.add(t.name);
      parts.push(...sketch);
    }
    const complete = this.pending.size === 0 && !this.spilled.running;
    const specs = [...named].filter((n) => this.node.store.has(n)).map((n) => this.node.store.spec(n));
    const batch: ReplicaBatch = {
      primaryId: this.primaryId, batchSeq: ++this.batchSeq, reset: this.resetNext, chunks: Buffer.concat(parts), pushes: this.shipped, specs, rows,
      ...(this.wire.position > 0 ? { pushesWire: this.wire, pushesBytes: this.wire.position } : {}),
      applied: Buffer.alloc(0), inherited: Buffer.alloc(0), pushesApplied: 0, appliedAtMs: 0, complete, oldestMs: this.oldestPendingMs,
    };
    this.resetNext = false;
    this.clearShipped();
    if (complete) this.completeCut(batch);
    return batch;
  }

  /** Makes `batch` complete a cut: it carries the identities and windows of every push so far. */
  private completeCut(batch: ReplicaBatch): void {
    const windows = this.windows.take(this.node.dedup);
    batch.applied = Buffer.concat([encodeApplied(this.clients, this.seqs, this.acks), windows.own]);
    batch.inherited = windows.inherited;
    batch.pushesApplied = this.pushes;
    batch.appliedAtMs = this.newestAtMs;
    this.inFlight = { clients: this.clients, seqs: this.seqs, acks: this.acks };
    this.clients = [];
    this.seqs = [];
    this.acks = [];
    this.oldestInFlightMs = this.oldestPendingMs;
    this.oldestPendingMs = Infinity;
  }

  /** The buddy applied `batch`. */
  acked(batch: ReplicaBatch): void {
    this.recycle(batch);
    if (!batch.complete) return;
    this.oldestInFlightMs = Infinity;
    this.inFlight = null;
  }

  /** `batch` may not have been applied: everything is sent again, from a reset. */
  failed(batch: ReplicaBatch): void {
    this.recycle(batch);
    const oldest = Math.min(batch.oldestMs, this.oldestInFlightMs, this.oldestPendingMs);
    this.oldestInFlightMs = Infinity;
    if (this.inFlight) {
      this.clients = [...this.inFlight.clients, ...this.clients];
      this.seqs = [...this.inFlight.seqs, ...this.seqs];
      this.acks = [...this.inFlight.acks, ...this.acks];
      this.inFlight = null;
    }
    // The copy is listed at the next cut, not now: while the buddy is down, nothing is listed.
    this.resyncAtCut = true;
    this.oldestPendingMs = oldest;
  }

  /** Has every table with eviction report the ids it drops (tables made since included). */
  private watchDrops(): void {
    for (const info of this.node.store.list()) {
      const t = this.node.store.get(info.name);
      if (!(t instanceof EmbeddingTable) || !t.eviction) continue;
      let hook = this.dropHooks.get(t.name);
      if (!hook) {
        hook = (lo, hi) => {
          let ids = this.dropped.get(t.name);
          if (!ids) this.dropped.set(t.name, (ids = []));
          ids.push(lo, hi);
        };
        this.dropHooks.set(t.name, hook);
      }
      t.onDropped = hook; // a later log (a new buddy) takes the table over
    }
  }

  /** Starts a new list of pushes to ship, in the spare buffer when there is one. */
  private clearShipped(): void {
    this.shipped = [];
    this.shippedRows = 0;
    this.shippedTables = new Set();
    if (this.wire.position === 0) return;
    this.wire = this.spare?.truncate(0) ?? new ProtoWriter(Buffer.allocUnsafe(WIRE_INITIAL_BYTES));
    this.spare = null;
  }

  /** `batch` was sent (answered or failed): its buffer is free for the batch after next. */
  private recycle(batch: ReplicaBatch): void {
    const w = batch.pushesWire;
    if (w && w !== this.wire && w.capacity <= WIRE_KEPT_BYTES) this.spare = w;
    batch.pushesWire = undefined;
  }

  /** True when pushes to `table` may be shipped: the buddy's replica, applying them, ends bit-equal (no admission or eviction decisions of this PS's own). */
  private canShip(table: string): boolean {
    const incarnation = this.node.store.incarnation(table);
    let c = this.shippable.get(table);
    if (c?.incarnation !== incarnation) {
      const spec = this.node.store.spec(table);
      c = { incarnation, ok: spec.kind === 'embedding' && spec.admission === undefined && spec.eviction === undefined };
      this.shippable.set(table, c);
    }
    return c.ok;
  }

  private append(table: string, ids: Uint32Array): void {
    let p = this.pending.get(table);
    if (!p) this.pending.set(table, (p = { ids: new Uint32Array(Math.max(1024, ids.length)), n: 0 }));
    if (2 * p.n + ids.length > p.ids.length) {
      if (2 * p.n + ids.length > MAX_PENDING_IDS) {
        // The buddy has been away too long to keep a list: copy everything once it answers.
        this.resync();
        return;
      }
      const grown = new Uint32Array(Math.max(2 * p.ids.length, 2 * p.n + ids.length));
      grown.set(p.ids.subarray(0, 2 * p.n));
      p.ids = grown;
    }
    p.ids.set(ids, 2 * p.n);
    p.n += ids.length >>> 1;
  }

  /**
   * Appends the next slice of each disk-tier walk of a full copy (spilled-copy.ts) to `parts`,
   * read now like the pending rows, into a batch that holds `rows` of at most `maxRows`; returns
   * the rows added and names their tables in `named`.
   */
  private encodeWalks(maxRows: number, rows: number, parts: Buffer[], named: Set<string>): number {
    let added = 0;
    for (const name of this.spilled.tables()) {
      const slice = this.spilled.next(name, walkSlice(maxRows, rows + added));
      if (!slice || slice.n === 0 || !this.node.store.has(name)) continue;
      added += this.encodeRows(this.node.store.getEmbedding(name), slice, parts);
      named.add(name);
    }
    return added;
  }

  /** Appends the chunk of table `t`'s pending rows (distinct; resident or spilled) to `parts`; returns its rows. */
  private encodeRows(t: EmbeddingTable, p: Pending, parts: Buffer[]): number {
    const found = new Uint32Array(2 * p.n);
    const k = this.dedup.dedupInto(p.ids.subarray(0, 2 * p.n), found, new Uint32Array(p.n));
    // A full copy lists rows in this table's hash order; the buddy must not insert them so.
    const unique = new Uint32Array(2 * k);
    const at = scrambledOrder(k);
    for (let i = 0; i < k; i++) {
      const j = at(i);
      unique[2 * i] = found[2 * j];
      unique[2 * i + 1] = found[2 * j + 1];
    }
    const ids = new Uint32Array(2 * k);
    const w = new Float32Array(k * t.dim);
    const s = new Float32Array(k * t.stateWidth);
    const n = t.readRows(unique, k, ids, w, s);
    // No row to send, yet the push ticked the ttl_steps clock (a step's empty request, or rows
    // evicted or not admitted): the clock goes alone, or promoted rows would come out that many
    // steps young (issue 17).
    if (n === 0) {
      parts.push(...this.meta.rowsMeta(t, ids, 0));
      return 0;
    }
    // In the table's stored format: the replica is kept in it, so shipped pushes round alike.
    let stored: Float32Array | Uint16Array = w.subarray(0, n * t.dim);
    if (t.weightFormat === 'f16') encodeF16(w.subarray(0, n * t.dim), (stored = new Uint16Array(n * t.dim)));
    parts.push(...encodeChunk({ kind: 'rows', weightFormat: t.weightFormat, table: t.name, dim: t.dim, stateWidth: t.stateWidth, rows: n, bucketStart: 0, bucketEnd: 0 },
      ids.subarray(0, 2 * n), stored, s.subarray(0, n * t.stateWidth)), ...this.meta.rowsMeta(t, ids, n));
    return n;
  }
}
