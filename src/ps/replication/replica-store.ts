/**
 * The buddy half of replication (issue 17), free of transport: per primary, a replica of every
 * table it owns, created from the primary's own specs (never served: pulls and pushes reach only
 * the PS's live tables), its dense tables, and the dedup identities of the pushes the replica
 * holds. `promote` turns a replica into live rows and tables when the chief hands this PS the
 * dead primary's buckets, in time slices so this PS keeps serving meanwhile; a table this PS
 * lacks (a dense table lives on its owner only) is created there from the replicated spec.
 *
 * ```ts
 * const replicas = new ReplicaStore(node);
 * replicas.apply(batch);                        // each ReplicaBatch from the primary, in order
 * await replicas.promote(3, bucketsOfPs3);      // ps 3 died: its rows become this PS's
 * ```
 */
import { readChunks } from '../../checkpoint/chunk-format';
import { ERROR_CODES, TesseraError } from '../../common/errors';
import { denseBucket } from '../../sharding/dense-bucket';
import type { PsNode } from '../ps-node';
import { PushDedup } from '../push-dedup';
import { EmbeddingTable } from '../store/embedding-table';
import { sameSpec } from '../store/table-spec';
import { TableSpec, TableStore } from '../store/table-store';
import { forEachApplied, forEachHandedOver } from './applied-pushes';
import { LoopSlicer, promoteRows, promoteSpilled } from './replica-promotion';
import { applyReplicatedMeta, promoteMeta, replicaEviction } from './replicated-meta';
import type { ReplicaBatch } from './replication-log';
import { decodeShippedPush } from './shipped-pushes';

/** What a replica holds of one primary. */
interface Replica {
  tables: TableStore;
  /** The primary's spec of each table it sent, by name. */
  specs: Map<string, TableSpec>;
  dense: Map<string, { values: Float32Array; state: Float32Array }>;
  dedup: PushDedup;
  lastSeq: number;
  /** Pushes applied on the primary up to the newest complete batch. */
  pushesApplied: number;
  /** Wall-clock ms of the newest push the replica holds (0: none yet). */
  appliedAtMs: number;
  /** The primary's eviction clock of the newest `meta` chunk, by table (replicated-meta.ts). */
  clocks: Map<string, number>;
  /** A complete batch was applied since the last reset: the replica holds every row (a copy may span batches). */
  whole: boolean;
}

/** What one primary's replica holds, for status and tests. */
export interface ReplicaInfo {
  primaryId: number;
  rows: number;
  pushesApplied: number;
  appliedAtMs: number;
}

/** What a promotion loaded into the live tables. */
export interface Promoted extends ReplicaInfo {
  dense: number;
  identities: number;
  /** Time slices it ran in (the event loop had a turn between each two). */
  slices: number;
}

function sameMask(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Every replica this PS holds, by primary id. */
export class ReplicaStore {
  private readonly replicas = new Map<number, Replica>();
  /** Promotions under way, by primary id, with the buckets each was asked for. */
  private readonly promoting = new Map<number, { buckets: Uint8Array; done: Promise<Promoted> }>();

  /** @param slicer how a promotion shares the event loop (default: 8 ms slices) */
  constructor(private readonly node: PsNode, private readonly slicer: () => LoopSlicer = () => new LoopSlicer()) {}

  /**
   * Applies one batch of `batch.primaryId`: with `reset`, what this PS held of it is dropped
   * first; otherwise the batch must follow the previous one (else FAILED_PRECONDITION: the
   * primary resyncs). Rows and dense tables overwrite; shipped pushes are applied in order with
   * the table's optimizer; identities join the replica's window (kept across a reset), the
   * primary's inherited ones marked inherited.
   * @returns the rows written
   */
  apply(batch: Omit<ReplicaBatch, 'oldestMs'>): number {
    if (this.promoting.has(batch.primaryId)) throw this.outOfOrder(batch, 'its replica is being promoted');
    let r = this.replicas.get(batch.primaryId);
    if (batch.reset || !r) {
      if (!batch.reset) throw this.outOfOrder(batch, 'no replica is held; send a reset');
      for (const t of r?.tables.list() ?? []) r!.tables.drop(t.name); // frees their disk tier
      r = { tables: new TableStore({ slabRows: this.node.store.slabRows, tier: this.node.replicaTiers?.of(batch.primaryId) }), specs: new Map(), dense: new Map(), dedup: r?.dedup ?? new PushDedup(), clocks: new Map(), lastSeq: 0, pushesApplied: 0, appliedAtMs: 0, whole: false };
      this.replicas.set(batch.primaryId, r);
    } else if (batch.batchSeq !== r.lastSeq + 1) {
      throw this.outOfOrder(batch, `expected batch ${r.lastSeq + 1}`);
    }
    for (const spec of batch.specs) {
      const held = r.specs.get(spec.name);
      // The primary dropped the table and created it again otherwise: its rows went with it.
      if (held && !sameSpec(held, spec)) {
        r.tables.drop(spec.name);
        r.dense.delete(spec.name);
        r.clocks.delete(spec.name);
      }
      r.specs.set(spec.name, spec);
    }
    const where = `replica batch ${batch.batchSeq} of ps ${batch.primaryId}`;
    // Every push is checked (CRC-32) before any is applied; a refused batch is followed by a reset.
    const pushes = batch.pushes.map((bytes, i) => decodeShippedPush(bytes, `${where}, push ${i}`));
    let rows = 0;
    for (const c of readChunks(batch.chunks, where, true)) {
      const { table: name, kind } = c.header;
      if (kind === 'dense') {
        const spec = this.specOf(r, name, 'dense');
        if (spec.size !== c.weights.length) throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `chunk: dense table "${name}" of ${where} holds ${c.weights.length} floats, its spec ${spec.size}`);
        r.dense.set(name, { values: Float32Array.from(c.weights), state: Float32Array.from(c.state) });
      } else if (kind === 'rows') {
        rows += this.tableOf(r, name).loadRows(c.ids, c.weights, c.state, 0, c.header.rows);
      } else if (kind === 'tombstones') {
        this.tableOf(r, name).deleteIds(c.ids); // rows the primary's eviction dropped
      } else if (kind === 'meta' || kind === 'sketch') {
        const clock = applyReplicatedMeta(this.tableOf(r, name), c);
        if (clock !== undefined) r.clocks.set(name, clock);
      }
    }
    for (const p of pushes) rows += this.tableOf(r, p.table).replay(p.ids, p.grads);
    forEachApplied(batch.applied, (id, seq, n) => r.dedup.record(id, seq, n));
    forEachApplied(batch.inherited, (id, seq, n) => r.dedup.inherit(id, seq, n)); // kept as the primary keeps them (replicated-windows.ts)
    r.lastSeq = batch.batchSeq;
    if (batch.complete) {
      r.whole = true;
      r.pushesApplied = batch.pushesApplied;
      r.appliedAtMs = batch.appliedAtMs;
    }
    return rows;
  }

  /** The replicas held now. */
  list(): ReplicaInfo[] {
    return [...this.replicas].map(([primaryId, r]) => ({
      primaryId, rows: r.tables.list().reduce((n, t) => n + t.rows + (t.memory?.tier?.rows ?? 0), 0), pushesApplied: r.pushesApplied, appliedAtMs: r.appliedAtMs,
    }));
  }

  /**
   * Drops the replicas of every primary not in `keep` (this PS is no longer their buddy), and
   * deletes their disk tiers. A tier that fails to go is left on disk, emptied when a replica
   * of that primary is kept here again.
   */
  retain(keep: ReadonlySet<number>): void {
    for (const id of [...this.replicas.keys()]) {
      if (keep.has(id)) continue;
      this.replicas.delete(id);
      this.node.replicaTiers?.release(id).catch(() => undefined);
    }
  }

  /**
   * Loads the replica of `primaryId` into the live tables for the buckets in `buckets`
   * (bucket → 1), dense tables of those buckets too, and hands its push identities to the live
   * dedup window (under the keys a client re-sends them with: `forEachHandedOver`). The rows go
   * in time slices (replica-promotion.ts), so this PS goes on serving its own buckets meanwhile;
   * batches for the replica are refused until it resolves. The replica stays until `retain`
   * drops it (the next configuration), so a promotion the chief repeats (it failed to publish
   * the map, or its call timed out) does the same; a repeat that arrives while the first still
   * runs joins it.
   * @throws TesseraError INVALID_ARGUMENT when no replica of `primaryId` is held, SNAPSHOT_CONFLICT
   *   while its full copy is still arriving (nothing is loaded then)
   */
  async promote(primaryId: number, buckets: Uint8Array): Promise<Promoted> {
    const running = this.promoting.get(primaryId);
    if (running) {
      if (sameMask(running.buckets, buckets)) return running.done;
      await running.done.catch(() => undefined);
    }
    // Registered before any of it runs, so a batch or a repeat arriving in its first slice sees it.
    const done = Promise.resolve().then(() => this.promoteNow(primaryId, buckets));
    this.promoting.set(primaryId, { buckets, done });
    try {
      return await done;
    } finally {
      if (this.promoting.get(primaryId)?.done === done) this.promoting.delete(primaryId);
    }
  }

  private async promoteNow(primaryId: number, buckets: Uint8Array): Promise<Promoted> {
    const r = this.replicas.get(primaryId);
    if (!r) throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `primary_id: this PS holds no replica of ps ${primaryId} (held: ${[...this.replicas.keys()].join(', ') || 'none'})`);
    if (!r.whole) throw new TesseraError(ERROR_CODES.SNAPSHOT_CONFLICT, `primary_id: the replica of ps ${primaryId} is still receiving its full copy; it cannot stand in for the PS`);
    const nb = buckets.length;
    const slicer = this.slicer();
    let rows = 0;
    for (const info of r.tables.list()) {
      this.ensureLive(r, info.name);
      rows += await promoteRows(r.tables.getEmbedding(info.name), this.node.store.getEmbedding(info.name), buckets, slicer);
      rows += await promoteSpilled(r.tables.getEmbedding(info.name), this.node.store.getEmbedding(info.name), buckets, slicer);
      await promoteMeta(r.tables.getEmbedding(info.name), this.node.store.getEmbedding(info.name), buckets, r.clocks.get(info.name), slicer);
    }
    let dense = 0;
    for (const [name, d] of r.dense) {
      if (buckets[denseBucket(name, nb)] !== 1) continue;
      this.ensureLive(r, name);
      this.node.restoreDense(name, d.values, d.state);
      dense++;
    }
    let identities = 0;
    forEachHandedOver(r.dedup, primaryId, (id, seq, n) => {
      this.node.dedup.inherit(id, seq, n);
      identities++;
    });
    return { primaryId, rows, dense, identities, pushesApplied: r.pushesApplied, appliedAtMs: r.appliedAtMs, slices: slicer.yields + 1 };
  }

  /** Creates the live table `name` from the primary's spec when this PS lacks it (a dense table lives on its owner only). */
  private ensureLive(r: Replica, name: string): void {
    if (!this.node.store.has(name)) this.node.createTable(r.specs.get(name)!);
  }

  /** The replica's table `name`, created from the primary's spec (in the weight format of the primary's, so shipped pushes round alike). */
  private tableOf(r: Replica, name: string): EmbeddingTable {
    if (!r.tables.has(name)) {
      const spec = this.specOf(r, name, 'embedding');
      // Never admitted or evicted here: pushes to such tables come as rows read after apply. The
      // primary's admission and an eviction that never drops a row keep what they count; a table
      // that spills on the primary spills here too, to the replica's own tier (replicated-meta.ts).
      const eviction = spec.eviction ? replicaEviction(spec.eviction, this.node.replicaTiers !== undefined) : undefined;
      r.tables.create({
        name, kind: 'embedding', dim: spec.dim, optimizer: spec.optimizer, initializer: spec.initializer, seed: spec.seed, weightFormat: spec.weightFormat,
        ...(spec.admission ? { admission: spec.admission } : {}), ...(eviction ? { eviction } : {}),
      });
    }
    return r.tables.getEmbedding(name);
  }

  private specOf<K extends TableSpec['kind']>(r: Replica, name: string, kind: K): Extract<TableSpec, { kind: K }> {
    const spec = r.specs.get(name);
    if (spec?.kind !== kind) {
      throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `specs: the batch sends ${kind} table "${name}" but ${spec ? `specs it as ${spec.kind}` : 'no spec of it'}`);
    }
    return spec as Extract<TableSpec, { kind: K }>;
  }

  private outOfOrder(batch: { primaryId: number; batchSeq: number }, why: string): TesseraError {
    return new TesseraError(ERROR_CODES.SNAPSHOT_CONFLICT, `batch_seq: batch ${batch.batchSeq} of ps ${batch.primaryId} is out of order (${why}); resync from a reset`);
  }
}
