/**
 * The target half of migrations (issue 17), free of transport: checks each chunk (its header and
 * payload CRC-32, the table's layout, and that every row is in a bucket being staged here and not
 * owned here), then deletes tombstoned ids and overwrites rows (and dense tables) bit-exactly. Overwriting makes a
 * chunk sent twice harmless. Refusing owned buckets keeps a late chunk from overwriting rows that
 * pushes have changed since this PS took the bucket over.
 */
import { ERROR_CODES, TesseraError } from '../../common/errors';
import { bucketOf } from '../../sharding/buckets';
import { denseBucket } from '../../sharding/dense-bucket';
import { readChunks } from '../../checkpoint/chunk-format';
import type { PsNode } from '../ps-node';
import { dropBucketRows } from './drop-rows';
import { IncomingMeta } from './migrated-meta';
import { inheritMigrated } from './migrated-window';

/** What a chunk changed on the target. */
export interface ChunkApplied {
  rows: number;
  tombstones: number;
}

/** Migrations into this PS, by id: the buckets each is staging. */
export class IncomingMigrations {
  private readonly staged = new Map<string, Uint8Array>();
  /** Admission and eviction metadata being received, by migration id. */
  private readonly metas = new Map<string, IncomingMeta>();

  constructor(private readonly node: PsNode) {}

  /**
   * Starts (or continues) staging `buckets` (bucket → 1) for migration `id`. Refuses buckets this
   * PS owns at its shard-map version: rows pushed here would be overwritten.
   */
  stage(id: string, buckets: Uint8Array): void {
    const owned = this.node.ownedBuckets;
    for (let b = 0; b < buckets.length; b++) {
      if (buckets[b] === 1 && (owned === null || owned[b] === 1)) {
        throw new TesseraError(ERROR_CODES.WRONG_SHARD, `buckets: bucket ${b} is owned by this PS at shard-map version ${this.node.shardMapVersion}; a migration only stages buckets it does not own yet`);
      }
    }
    const prev = this.staged.get(id);
    if (prev) for (let b = 0; b < buckets.length; b++) prev[b] |= buckets[b];
    else this.staged.set(id, Uint8Array.from(buckets));
  }

  /** Checks and applies one chunk of migration `id`. */
  apply(id: string, bytes: Buffer): ChunkApplied {
    const mask = this.staged.get(id);
    if (!mask) throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `migration_id: no buckets are staged for migration "${id}"; send them with the first chunk`);
    const where = `migration ${id} chunk`;
    const chunks = [...readChunks(bytes, where, true)];
    if (chunks.length !== 1) throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `chunk: ${where} holds ${chunks.length} chunks, expected 1`);
    const c = chunks[0];
    const { table: name, kind, rows } = c.header;
    const owned = this.node.ownedBuckets;
    const inStage = (k: number): boolean => {
      const b = bucketOf(c.ids[2 * k], c.ids[2 * k + 1], mask.length);
      return mask[b] === 1 && owned !== null && owned[b] === 0;
    };
    if (kind === 'tombstones') return { rows: 0, tombstones: this.node.deleteRows(name, c.ids, inStage) };
    if (kind === 'meta' || kind === 'sketch') {
      let meta = this.metas.get(id);
      if (!meta) this.metas.set(id, meta = new IncomingMeta());
      const staged = mask.map((m, b) => (m === 1 && owned !== null && owned[b] === 0 ? 1 : 0));
      meta.apply(this.node.store.getEmbedding(name), c, inStage, staged);
      return { rows: 0, tombstones: 0 };
    }
    if (kind === 'dense') {
      const b = denseBucket(name, mask.length);
      if (mask[b] !== 1 || owned === null || owned[b] === 1) {
        throw new TesseraError(ERROR_CODES.WRONG_SHARD, `chunk: ${where} holds dense table "${name}" of bucket ${b}, which is ${mask[b] === 1 ? 'owned by this PS now' : 'not staged by this migration'}`);
      }
      this.node.restoreDense(name, c.weights as Float32Array, c.state);
      return { rows: 1, tombstones: 0 };
    }
    this.node.checkRestorable(name, c.header);
    for (let k = 0; k < rows; k++) {
      if (!inStage(k)) {
        const b = bucketOf(c.ids[2 * k], c.ids[2 * k + 1], mask.length);
        throw new TesseraError(ERROR_CODES.WRONG_SHARD, `chunk: ${where} row ${k} is in bucket ${b}, which is ${mask[b] === 1 ? 'owned by this PS now' : 'not staged by this migration'}; nothing of the chunk was loaded`);
      }
    }
    return { rows: this.node.restoreRows(name, c.ids, c.weights, c.state, 0, rows), tombstones: 0 };
  }

  /**
   * Remembers the dedup identities `bytes` of migration `id` (pushes its source applied; see
   * migrated-window.ts) as applied here; returns how many.
   */
  inherit(id: string, bytes: Buffer): number {
    if (!this.staged.has(id)) throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `migration_id: no buckets are staged for migration "${id}"; send them with the first message`);
    return inheritMigrated(this.node.dedup, bytes);
  }

  /**
   * Ends migration `id` here. `commit`: forget it (the rows are this PS's once the new map is
   * installed). Otherwise drop the staged rows of the buckets this PS still does not own.
   * @returns rows dropped, and whether the migration was known
   */
  async end(id: string, commit: boolean): Promise<{ rowsDropped: number; known: boolean }> {
    const mask = this.staged.get(id);
    if (!mask) return { rowsDropped: 0, known: false };
    this.staged.delete(id);
    this.metas.delete(id);
    if (commit) return { rowsDropped: 0, known: true };
    const owned = this.node.ownedBuckets;
    const drop = mask.map((m, b) => (m === 1 && owned !== null && owned[b] === 0 ? 1 : 0));
    return { rowsDropped: await dropBucketRows(this.node, drop), known: true };
  }
}
