/**
 * The parameter server's logic, free of transport: tables, optimizers, shard-map
 * fencing, request validation and counters. data-service.ts and admin-service.ts adapt it to gRPC.
 * It never touches etcd, and disk only through the injected `RowTier` (tables with `eviction.spill`).
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { Logger } from '../common/logger';
import { bucketOf, checkNumBuckets, DEFAULT_NUM_BUCKETS, firstNotOwned } from '../sharding/buckets';
import { Encoding } from '../wire/data-plane-codec';
import { decodeF16, encodeF16 } from '../wire/f16';
import { f32FromBytes, idsFromBytes } from '../wire/key-block';
import { denseBucket } from '../sharding/dense-bucket';
import { DenseTable } from './store/dense-table';
import type { TableSnapshot } from './store/table-snapshot';
import { EmbeddingTable } from './store/embedding-table';
import { TableInfo, TableSpec, TableStore } from './store/table-store';
import type { ReplicaTiers, RowTier } from './store/row-tier';
import { denseAtCut, SnapshotCursor, SnapshotOptions } from './checkpoint/snapshot-cursor';
import { checkCheckpointId } from '../checkpoint/checkpoint-id';
import { PushDedup } from './push-dedup';

/** Cuts a PS remembers as possible bases of an incremental snapshot (older ones are refused). */
export const KNOWN_CUTS = 16;

export interface PsNodeConfig {
  /** Largest data-plane request accepted, in bytes. */
  maxRequestBytes: number;
}

export interface PsNodeDeps {
  config: PsNodeConfig;
  logger: Logger;
  store?: TableStore;
  /** The PS's disk tier for tables with `eviction.spill` (ignored when `store` is given). */
  tier?: RowTier;
  /** Disk tiers for the replicas this PS keeps as a buddy (none: replica tables stay in RAM). */
  replicaTiers?: ReplicaTiers;
  /** Monotonic milliseconds; injected for tests. */
  now?: () => number;
}

/** A data-plane pull as the node sees it (decoded, transport-independent). */
export interface PullInput {
  table: string;
  shardMapVersion: number;
  ids: Uint8Array;
  encoding: Encoding;
  encodedBytes?: number;
  /** Evaluation/serving: missing rows come from the initializer and are not inserted. */
  readOnly?: boolean;
  /** Push staleness: also report each row's version (see VersionAllocator). */
  wantVersions?: boolean;
  /** Set when the request's bytes were not a valid message (why); such a request is refused. */
  malformed?: string;
  /** The table incarnation the caller expects; 0 or absent: not checked. */
  tableIncarnation?: number;
}

export interface PushInput extends PullInput {
  grads: Uint8Array;
  /** Idempotent pushes: the sender's id and this push's sequence number (see PushDedup). */
  clientId?: bigint;
  pushSeq?: number;
  /** The training step this push is part of (its step tag, ADR 0040): the eviction clock counts it once. */
  stepTag?: { client: bigint; step: number };
}

/**
 * Gives the node an output region of `bytes` bytes, 4-byte aligned, for `dim`-wide rows;
 * `versionRows` is the number of row versions the answer will carry too (0 unless the request
 * wanted versions), which the node then asks for through its VersionAllocator.
 */
export type ValueAllocator = (bytes: number, dim: number, versionRows: number) => Uint8Array;

/**
 * Gives the node the region for `rows` row versions (u32) of a request that wanted them: for a
 * pull, each row's version as read; for a push, each row's version just before the push.
 */
export type VersionAllocator = (rows: number) => Uint32Array;

export interface PsCounters {
  pulls: number;
  pushes: number;
  rowsPulled: number;
  rowsPushed: number;
  rejected: number;
}

function bad(code: (typeof ERROR_CODES)[keyof typeof ERROR_CODES], msg: string): TesseraError {
  return new TesseraError(code, msg);
}

/**
 * One parameter server.
 *
 * ```ts
 * const node = new PsNode({ config: { maxRequestBytes: 64 << 20 }, logger });
 * node.createTable({ name: 'emb', kind: 'embedding', dim: 16, optimizer: { kind: 'adagrad', lr: 0.05 } });
 * ```
 */
export class PsNode {
  readonly store: TableStore;
  /** Where replica tables spill (replica-store.ts); undefined without a disk tier. */
  readonly replicaTiers: ReplicaTiers | undefined;
  readonly counters: PsCounters = { pulls: 0, pushes: 0, rowsPulled: 0, rowsPushed: 0, rejected: 0 };
  /** The pushes applied recently, per client: a retried one is acknowledged, not applied again. */
  readonly dedup = new PushDedup();
  /** Told of every push applied (table, ids or null for dense, identity, answer, decoded gradients valid during the call only): replication's log. */
  onApplied: ((table: string, ids: Uint32Array | null, clientId: bigint | undefined, seq: number | undefined, rows: number, grads: Float32Array) => void) | null = null;
  private version = 0;
  private owned: Uint8Array | null = null; // bucket -> 1 if this PS owns it; null = owns all
  private numBuckets = DEFAULT_NUM_BUCKETS;
  /** Snapshot epoch: rows changed now are stamped with it; each cut advances it. */
  private epoch = 1;
  /** checkpoint id → the epoch right after its cut (rows stamped >= it changed since). */
  private readonly knownCuts = new Map<string, number>();
  private snapshot: SnapshotCursor | null = null;
  private scratch = new Float32Array(0);
  private readonly touchedDense = new Set<string>(); // dense tables pushed to or assigned
  private fencedReason: string | null = null;
  /** Buckets moving to another PS (issue 17), and why: pushes, and counting pulls of tables with admission or eviction, are refused. */
  private movingFence: { buckets: Uint8Array; reason: string; dense: Set<string> } | null = null;
  /** Evictions logged since this epoch are kept even when no checkpoint needs them (a migration's tail does). */
  private keepTombstonesFrom = Infinity;
  private readonly log: Logger;
  private readonly startedAt: number;
  private readonly now: () => number;

  constructor(private readonly deps: PsNodeDeps) {
    this.replicaTiers = deps.replicaTiers;
    this.store = deps.store ?? new TableStore({ now: deps.now, tier: deps.tier });
    this.log = deps.logger.child({ component: 'ps-node' });
    this.now = deps.now ?? (() => performance.now());
    this.startedAt = this.now();
  }

  /** True while fenced (see setFenced). */
  get fenced(): boolean {
    return this.fencedReason !== null;
  }

  get shardMapVersion(): number {
    return this.version;
  }

  /**
   * Fences the PS (it lost its etcd lease, so peers may already consider it dead): pushes are
   * refused with a retryable UNAVAILABLE until unfenced. Pulls still answer, since they change
   * nothing. `null` unfences.
   */
  setFenced(reason: string | null): void {
    this.fencedReason = reason;
    this.log.warn({ fenced: reason !== null, reason }, reason ? 'fenced: refusing pushes' : 'unfenced: accepting pushes');
  }

  /** Creates a table; false when an identical one exists. */
  createTable(spec: TableSpec): boolean {
    const existed = this.store.has(spec.name);
    this.store.create(spec);
    const created = this.store.get(spec.name);
    if (!existed && created instanceof EmbeddingTable && this.epoch > 1) created.setEpoch(this.epoch);
    if (!existed) this.log.info({ table: spec.name, kind: spec.kind }, 'table created');
    return !existed;
  }

  dropTable(name: string): boolean {
    const dropped = this.store.drop(name);
    if (dropped) this.log.info({ table: name }, 'table dropped');
    return dropped;
  }

  /**
   * Installs shard-map `version`. `ownedBuckets` lists the buckets this PS serves; ids of other
   * buckets are refused so a client with a wrong map can never write rows here by mistake.
   */
  setShardMap(version: number, numBuckets: number, ownedBuckets: ArrayLike<number> | null): number {
    if (!Number.isSafeInteger(version) || version < this.version) {
      throw bad(ERROR_CODES.INVALID_ARGUMENT,
        `version: shard-map version ${version} is older than the current version ${this.version}`);
    }
    checkNumBuckets(numBuckets, 'num_buckets');
    let owned: Uint8Array | null = null;
    if (ownedBuckets) {
      owned = new Uint8Array(numBuckets);
      for (let i = 0; i < ownedBuckets.length; i++) {
        const b = ownedBuckets[i];
        if (!(b >= 0 && b < numBuckets)) {
          throw bad(ERROR_CODES.INVALID_ARGUMENT, `owned_buckets: bucket ${b} is outside [0, ${numBuckets})`);
        }
        owned[b] = 1;
      }
    }
    const previous = this.version;
    this.version = version;
    this.owned = owned;
    this.numBuckets = numBuckets;
    this.log.info({ previous, version, owned: ownedBuckets?.length ?? 'all' }, 'shard map installed');
    return previous;
  }

  /**
   * Serves a pull: validates, then gathers rows straight into the region `alloc` returns, and
   * (when the request wants versions and `versions` is given) each row's version into the
   * region `versions` returns. A read-only pull reads versions of rows that exist, 0 otherwise.
   */
  pull(req: PullInput, alloc: ValueAllocator, versions?: VersionAllocator): number {
    try {
      const table = this.admit(req);
      const ver = req.wantVersions && versions ? versions : null;
      if (table instanceof DenseTable) {
        const out = this.output(alloc, table.size, table.size, req.encoding, ver ? 1 : 0);
        this.finishOutput(out, req.encoding, () => table.pull(out.f32));
        if (ver) ver(1)[0] = table.version;
        this.count(true, 1);
        return 1;
      }
      const ids = this.checkIds(req.ids);
      if (this.movingFence && !req.readOnly && (table.admission || table.eviction)) this.refuseMoving(ids, this.movingFence);
      const n = ids.length >>> 1;
      const out = this.output(alloc, n * table.dim, table.dim, req.encoding, ver ? n : 0);
      const v = ver ? ver(n) : undefined;
      this.finishOutput(out, req.encoding, () => (req.readOnly ? table.peek(ids, out.f32, 0, v) : table.pull(ids, out.f32, 0, v)));
      this.count(true, n);
      return n;
    } catch (err) {
      this.counters.rejected++;
      throw err;
    }
  }

  /**
   * Applies a push; all-or-nothing. Returns the number of distinct rows updated. When the
   * request wants versions and `versions` is given, each id's row version just before this push
   * is written to the region it returns.
   */
  push(req: PushInput, versions?: VersionAllocator): number {
    try {
      // Before the fence and shard-map checks: a retry of a push applied before its buckets
      // moved (or before a fence) must be acknowledged here, never re-routed and applied twice.
      const again = req.malformed === undefined ? this.dedup.lookup(req.clientId, req.pushSeq) : undefined;
      if (again !== undefined) return again;
      if (this.fencedReason !== null) {
        throw new TesseraError(ERROR_CODES.UNAVAILABLE, `ps is fenced (${this.fencedReason}); retry once it has re-registered`);
      }
      const table = this.admit(req);
      const grads = this.decodeGrads(req.grads, req.encoding);
      if (table instanceof DenseTable) {
        if (req.ids.byteLength !== 0) {
          throw bad(ERROR_CODES.BAD_IDS, `ids: dense table "${table.name}" takes no ids`);
        }
        if (this.movingFence?.dense.has(table.name)) {
          throw new TesseraError(ERROR_CODES.UNAVAILABLE, `dense table "${table.name}" is moving to another PS (${this.movingFence.reason}); retry, the new shard map follows`);
        }
        if (req.wantVersions && versions) versions(1)[0] = table.version;
        table.push(grads);
        this.touchedDense.add(table.name);
        this.count(false, 1);
        this.dedup.record(req.clientId, req.pushSeq, 1);
        this.onApplied?.(table.name, null, req.clientId, req.pushSeq, 1, grads);
        return 1;
      }
      const ids = this.checkIds(req.ids);
      if (this.movingFence) this.refuseMoving(ids, this.movingFence);
      const applied = table.push(ids, grads, req.wantVersions && versions ? versions(ids.length >>> 1) : undefined, req.stepTag);
      this.count(false, ids.length >>> 1);
      this.dedup.record(req.clientId, req.pushSeq, applied);
      this.onApplied?.(table.name, ids, req.clientId, req.pushSeq, applied, grads);
      return applied;
    } catch (err) {
      this.counters.rejected++;
      throw err;
    }
  }

  /**
   * Sets a dense table's values; with `onlyIfFresh`, only if nothing was pushed or assigned to
   * it yet (so every worker can offer the model's initial weights and the first one wins).
   */
  assignDense(name: string, values: Float32Array, onlyIfFresh: boolean): boolean {
    const table = this.store.getDense(name);
    if (values.length !== table.size) {
      throw bad(ERROR_CODES.DIM_MISMATCH, `values: ${values.length} floats for dense table "${name}" of size ${table.size}`);
    }
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i])) throw bad(ERROR_CODES.NON_FINITE, `values[${i}] is ${values[i]}`);
    }
    if (onlyIfFresh && this.touchedDense.has(name)) return false;
    table.restore(values, table.state);
    this.touchedDense.add(name);
    return true;
  }

  /**
   * Yields a table's rows in chunks of at most `chunkRows`: ids (lo, hi pairs) and weights.
   * Dense tables yield one chunk with no ids. The rows are copied out in one synchronous pass
   * (a consistent view, but a full copy of the weights); checkpoints (issue #5) stream slabs.
   */
  *exportRows(name: string, chunkRows: number): Generator<{ ids: Uint32Array; values: Float32Array; dim: number }> {
    const table = this.store.get(name);
    if (table instanceof DenseTable) {
      yield { ids: new Uint32Array(0), values: table.pull(), dim: table.size };
      return;
    }
    const dim = table.dim;
    let ids = new Uint32Array(2 * chunkRows);
    let values = new Float32Array(chunkRows * dim);
    let n = 0;
    const chunks: { ids: Uint32Array; values: Float32Array; dim: number }[] = [];
    table.forEachRow((lo, hi, w) => {
      ids[2 * n] = lo;
      ids[2 * n + 1] = hi;
      values.set(w.subarray(0, dim), n * dim);
      if (++n === chunkRows) {
        chunks.push({ ids, values, dim });
        ids = new Uint32Array(2 * chunkRows);
        values = new Float32Array(chunkRows * dim);
        n = 0;
      }
    });
    if (n > 0) chunks.push({ ids: ids.subarray(0, 2 * n), values: values.subarray(0, n * dim), dim });
    yield* chunks;
  }

  /** Buckets per table in the installed shard map (DEFAULT_NUM_BUCKETS before one is installed). */
  get bucketCount(): number {
    return this.numBuckets;
  }

  /**
   * Takes a consistent cut of every table, synchronously and in O(slabs): the returned cursor
   * yields each embedding table's rows (only the buckets this PS owns) exactly as they are now,
   * grouped by bucket, while pulls and pushes go on (copy-on-write per slab). Dense tables are
   * copied whole. An incremental snapshot yields only rows created or written since the cut of
   * `baseId`, plus the ids evicted since then (`tombstones`). One snapshot at a time.
   */
  beginSnapshot(opts: SnapshotOptions): SnapshotCursor {
    const t0 = this.now();
    if (this.snapshot) {
      throw bad(ERROR_CODES.SNAPSHOT_CONFLICT, `snapshot "${opts.id}": snapshot "${this.snapshot.cut.id}" is still being written`);
    }
    checkCheckpointId(opts.id, 'checkpoint_id');
    let sinceEpoch = 0;
    if (opts.kind === 'incremental') {
      const base = opts.baseId === undefined ? undefined : this.knownCuts.get(opts.baseId);
      if (base === undefined) {
        throw bad(ERROR_CODES.SNAPSHOT_CONFLICT, `base_id: checkpoint "${opts.baseId ?? ''}" was not cut on this PS since it started (known: ${[...this.knownCuts.keys()].join(', ') || 'none'}); take a full checkpoint`);
      }
      sinceEpoch = base;
    } else if (opts.kind !== 'full') {
      throw bad(ERROR_CODES.INVALID_ARGUMENT, `kind: must be "full" or "incremental", got ${JSON.stringify(opts.kind)}`);
    }
    const nextEpoch = this.epoch + 1;
    const snaps = [];
    const dense = [];
    let cutRows = 0;
    const specs: TableSpec[] = [];
    for (const info of this.store.list()) {
      const t = this.store.get(info.name);
      specs.push(this.store.spec(info.name));
      if (t instanceof DenseTable) {
        // A dense table that moved away stays behind as a stale copy: only its owner's is cut.
        if (this.owned === null || this.owned[denseBucket(t.name, this.numBuckets)] === 1) dense.push(denseAtCut(t));
        continue;
      }
      cutRows += t.size + t.spilledRows;
      snaps.push({ table: t, snap: t.beginSnapshot({ sinceEpoch, nextEpoch, numBuckets: this.numBuckets, owned: this.owned, expire: true }) });
    }
    this.epoch = nextEpoch;
    this.rememberCut(opts.id, nextEpoch);
    const cut = {
      id: opts.id, kind: opts.kind, baseId: opts.baseId, numBuckets: this.numBuckets, shardMapVersion: this.version,
      cutRows, cutMicros: Math.round((this.now() - t0) * 1000), tables: specs,
    };
    const cursor = new SnapshotCursor(cut, snaps, dense, () => { if (this.snapshot === cursor) this.snapshot = null; });
    this.snapshot = cursor;
    this.log.info({ id: opts.id, kind: opts.kind, baseId: opts.baseId, cutRows, cutMicros: cut.cutMicros }, 'snapshot cut');
    return cursor;
  }

  /** True while a snapshot is being written (restores are refused meanwhile). */
  get snapshotting(): boolean {
    return this.snapshot !== null;
  }

  /**
   * Checks that embedding table `name` exists and can take a checkpoint's rows of this layout;
   * TESSERA_ERR_INCOMPATIBLE_SPEC names the table and the field that differs.
   */
  checkRestorable(name: string, layout: { dim: number; stateWidth: number; weightFormat: string }): EmbeddingTable {
    const t = this.store.getEmbedding(name);
    for (const field of ['dim', 'stateWidth', 'weightFormat'] as const) {
      if (t[field] !== layout[field]) {
        throw bad(ERROR_CODES.INCOMPATIBLE_SPEC,
          `table "${name}": checkpoint has ${field} ${layout[field]}, the table on this PS has ${field} ${t[field]}`);
      }
    }
    if (this.snapshot) throw bad(ERROR_CODES.SNAPSHOT_CONFLICT, `table "${name}": cannot restore while snapshot "${this.snapshot.cut.id}" is being written`);
    return t;
  }

  /** Removes the rows of `buckets` (bucket → 1) from table `name` before a restore; returns the count. */
  clearBuckets(name: string, buckets: Uint8Array | null): number {
    return this.store.getEmbedding(name).clearBuckets(buckets, this.numBuckets);
  }

  /**
   * Loads checkpoint rows `[from, to)` into table `name` bit-exactly (weights in the table's
   * stored format, optimizer state as saved); `keep` filters rows (by bucket).
   */
  restoreRows(name: string, ids: Uint32Array, weights: Float32Array | Uint16Array, state: Float32Array,
    from: number, to: number, keep?: (k: number) => boolean): number {
    return this.store.getEmbedding(name).loadRows(ids, weights, state, from, to, keep);
  }

  /** Removes checkpoint tombstones (ids evicted in an incremental's interval) from table `name`. */
  deleteRows(name: string, ids: Uint32Array, keep?: (k: number) => boolean): number {
    return this.store.getEmbedding(name).deleteIds(ids, keep);
  }

  /** Sets a dense table's weights and optimizer state from a checkpoint. */
  restoreDense(name: string, values: Float32Array, state: Float32Array): void {
    const t = this.store.getDense(name);
    if (state.length !== t.state.length) {
      throw bad(ERROR_CODES.INCOMPATIBLE_SPEC, `table "${name}": checkpoint has state width ${state.length}, the table on this PS has ${t.state.length}`);
    }
    if (values.length !== t.size) {
      throw bad(ERROR_CODES.INCOMPATIBLE_SPEC, `table "${name}": checkpoint has size ${values.length}, the table on this PS has size ${t.size}`);
    }
    t.restore(values, state);
    this.touchedDense.add(name);
  }

  /**
   * Ends a restore of checkpoint `id`: advances the epoch so `id` can serve as the base of the
   * next incremental snapshot (the rows just loaded are its content, not changes since).
   */
  finishRestore(id: string): void {
    this.epoch++;
    for (const info of this.store.list()) {
      const t = this.store.get(info.name);
      if (t instanceof EmbeddingTable) t.setEpoch(this.epoch);
    }
    this.rememberCut(id, this.epoch);
  }

  private rememberCut(id: string, epoch: number): void {
    this.knownCuts.delete(id);
    this.knownCuts.set(id, epoch);
    while (this.knownCuts.size > KNOWN_CUTS) this.knownCuts.delete(this.knownCuts.keys().next().value as string);
    const oldest = Math.min(...this.knownCuts.values(), this.keepTombstonesFrom);
    for (const info of this.store.list()) {
      const t = this.store.get(info.name);
      if (t instanceof EmbeddingTable) t.pruneTombstones(oldest);
    }
  }

  /** bucket → 1 for the buckets this PS owns at its shard-map version; null: every bucket. */
  get ownedBuckets(): Uint8Array | null {
    return this.owned;
  }

  /**
   * A copy-on-write cut of the rows of `buckets` (bucket → 1) in every embedding table, for a
   * migration (issue 17): rows stamped at `>= sinceEpoch` (0: all) plus the ids evicted since
   * then. Synchronous; advances the epoch like a checkpoint cut, so rows changed from now on are
   * picked by the next round. End every table's snapshot once read (`EmbeddingTable.endSnapshot`).
   * @returns the cuts and the epoch the next round starts from
   */
  cutBuckets(buckets: Uint8Array, sinceEpoch: number): { cuts: { table: EmbeddingTable; snap: TableSnapshot }[]; epoch: number } {
    if (this.snapshot) throw bad(ERROR_CODES.SNAPSHOT_CONFLICT, `migration: checkpoint snapshot "${this.snapshot.cut.id}" is still being written; migrate after it`);
    const nextEpoch = this.epoch + 1;
    const cuts = [];
    for (const info of this.store.list()) {
      const t = this.store.get(info.name);
      if (t instanceof EmbeddingTable) cuts.push({ table: t, snap: t.beginSnapshot({ sinceEpoch, nextEpoch, numBuckets: this.numBuckets, owned: buckets }) });
    }
    this.epoch = nextEpoch;
    this.keepTombstonesFrom = Math.min(this.keepTombstonesFrom, sinceEpoch || nextEpoch);
    return { cuts, epoch: nextEpoch };
  }

  /**
   * Refuses pushes that touch `buckets` (bucket → 1) with a retryable UNAVAILABLE naming `reason`,
   * until called with null (which also stops keeping tombstones for the migration).
   */
  fenceBuckets(buckets: Uint8Array | null, reason = ''): void {
    this.movingFence = buckets ? { buckets, reason, dense: new Set(this.denseIn(buckets).map((t) => t.name)) } : null;
    if (!buckets) this.keepTombstonesFrom = Infinity;
  }

  /** The dense tables that live in `buckets` (bucket → 1): they move with those buckets. */
  denseIn(buckets: Uint8Array): DenseTable[] {
    const out: DenseTable[] = [];
    for (const info of this.store.list()) {
      const t = this.store.get(info.name);
      if (t instanceof DenseTable && buckets[denseBucket(t.name, buckets.length)] === 1) out.push(t);
    }
    return out;
  }

  /** Tables, counters and memory. */
  stats(): { tables: TableInfo[]; shardMapVersion: number; counters: PsCounters; uptimeS: number } {
    return {
      tables: this.store.list(),
      shardMapVersion: this.version,
      counters: { ...this.counters },
      uptimeS: (this.now() - this.startedAt) / 1000,
    };
  }

  private count(isPull: boolean, rows: number): void {
    if (isPull) {
      this.counters.pulls++;
      this.counters.rowsPulled += rows;
    } else {
      this.counters.pushes++;
      this.counters.rowsPushed += rows;
    }
  }

  /** Decoding, size limit, shard-map version, table lookup and incarnation, in that order (cheapest first). */
  private admit(req: PullInput): EmbeddingTable | DenseTable {
    if (req.malformed !== undefined) {
      throw bad(ERROR_CODES.INVALID_ARGUMENT, `request: ${req.malformed}; nothing was applied`);
    }
    const size = req.encodedBytes ?? req.ids.byteLength;
    if (size > this.deps.config.maxRequestBytes) {
      throw bad(ERROR_CODES.TOO_LARGE,
        `request: ${size} bytes exceeds max_request_bytes ${this.deps.config.maxRequestBytes}; split the batch`);
    }
    if (req.shardMapVersion !== this.version) {
      throw bad(ERROR_CODES.STALE_SHARD_MAP,
        `shard_map_version: request was routed with version ${req.shardMapVersion}, this PS serves version ${this.version}`);
    }
    if (req.encoding !== Encoding.F32 && req.encoding !== Encoding.F16) {
      throw bad(ERROR_CODES.INVALID_ARGUMENT, `encoding: unknown encoding ${req.encoding}`);
    }
    const table = this.store.get(req.table);
    // A caller that names the incarnation it knows is never served by a table of the same name
    // created since (dropped and recreated empty): its rows would silently start over.
    if (req.tableIncarnation && req.tableIncarnation !== this.store.incarnation(req.table)) {
      throw bad(ERROR_CODES.TABLE_INCARNATION,
        `table_incarnation: table "${req.table}" on this PS is incarnation ${this.store.incarnation(req.table)}, the request expected ${req.tableIncarnation}: the table was dropped and created again, so its rows are not the ones the caller trained`);
    }
    return table;
  }

  private refuseMoving(ids: Uint32Array, fence: { buckets: Uint8Array; reason: string }): void {
    for (let i = 0; i < ids.length; i += 2) {
      const b = bucketOf(ids[i], ids[i + 1], this.numBuckets);
      if (fence.buckets[b] === 1) {
        throw new TesseraError(ERROR_CODES.UNAVAILABLE, `ids: bucket ${b} is moving to another PS (${fence.reason}); retry, the new shard map follows`);
      }
    }
  }

  private checkIds(bytes: Uint8Array): Uint32Array {
    if (bytes.byteLength % 8 !== 0) {
      throw bad(ERROR_CODES.BAD_IDS, `ids: ${bytes.byteLength} bytes is not a multiple of 8 (packed uint64)`);
    }
    const ids = idsFromBytes(bytes);
    const owned = this.owned;
    const i = owned ? firstNotOwned(ids, ids.length >>> 1, owned) : -1;
    if (i >= 0) {
      const b = bucketOf(ids[2 * i], ids[2 * i + 1], owned!.length);
      throw bad(ERROR_CODES.WRONG_SHARD, `ids: id at index ${i} belongs to bucket ${b}, which this PS does not own at shard-map version ${this.version}`);
    }
    return ids;
  }

  private decodeGrads(bytes: Uint8Array, encoding: Encoding): Float32Array {
    const width = encoding === Encoding.F16 ? 2 : 4;
    if (bytes.byteLength % width !== 0) {
      throw bad(ERROR_CODES.BAD_GRADIENT, `grads: ${bytes.byteLength} bytes is not a multiple of ${width}`);
    }
    if (encoding === Encoding.F32) return f32FromBytes(bytes);
    const n = bytes.byteLength >>> 1;
    const half = bytes.byteOffset % 2 === 0
      ? new Uint16Array(bytes.buffer, bytes.byteOffset, n)
      : new Uint16Array(Uint8Array.from(bytes).buffer);
    const out = new Float32Array(n);
    decodeF16(half, out);
    return out;
  }

  private output(alloc: ValueAllocator, values: number, dim: number, enc: Encoding, versionRows: number) {
    const region = alloc(values * (enc === Encoding.F16 ? 2 : 4), dim, versionRows);
    if (enc === Encoding.F32) {
      return { f32: new Float32Array(region.buffer, region.byteOffset, values), region };
    }
    if (this.scratch.length < values) this.scratch = new Float32Array(values);
    return { f32: this.scratch.subarray(0, values), region };
  }

  private finishOutput(out: { f32: Float32Array; region: Uint8Array }, enc: Encoding, fill: () => void): void {
    fill();
    if (enc === Encoding.F16) {
      const r = out.region;
      encodeF16(out.f32, new Uint16Array(r.buffer, r.byteOffset, r.byteLength >>> 1));
    }
  }
}
