/**
 * gRPC adapter for tessera.v1.PsMigration (issue 17): the source's BeginMigration, SendTail and
 * EndMigration, and the target's ReceiveBuckets. The logic is in outgoing-migration.ts and
 * incoming-migrations.ts; this file checks requests, keeps the one outgoing migration, and
 * streams each round to the target through `sendChunks` (the PS-to-PS client).
 */
import * as grpc from '@grpc/grpc-js';
import { ERROR_CODES, TesseraError } from '../../common/errors';
import type { Logger } from '../../common/logger';
import { checkCheckpointId } from '../../checkpoint/checkpoint-id';
import { ChunkMessage, migrationClient, sendChunks } from '../../wire/migration-client';
import { psMigrationService } from '../../wire/services';
import { toServiceError } from '../../wire/status-map';
import { tolerantService, undecodableError } from '../../wire/tolerant-decode';
import type { PsNode } from '../ps-node';
import { bucketMaskFromBytes, bucketMaskToBytes } from './bucket-set';
import { dropBucketRows } from './drop-rows';
import { IncomingMigrations } from './incoming-migrations';
import { APPLIED_ENTRY_BYTES } from '../replication/applied-pushes';
import { OutgoingMigration, RoundTotals } from './outgoing-migration';

/**
 * Deadline of one round's stream to the target. A copy of 10M rows at the ~1M rows/s a PS-to-PS
 * stream sustains here takes ~10 s; ten minutes leaves room for a loaded machine while still
 * ending a round whose target hung.
 */
const ROUND_TIMEOUT_MS = 600_000;

/** Push identities per ReceiveBuckets message (1.3 MB): a full window of 4,096 clients is 80 MB. */
const APPLIED_PER_MESSAGE = 65_536;

function precondition(message: string): TesseraError {
  return new TesseraError(ERROR_CODES.SNAPSHOT_CONFLICT, message);
}

/** The migration state of one PS: at most one outgoing migration, any number incoming. */
class MigrationHandlers {
  private outgoing: OutgoingMigration | null = null;
  /** The channel to the outgoing migration's target, kept for all its rounds. */
  private toTarget: grpc.Client | null = null;
  private busy = false;
  /** Ends being carried out, by migration id. */
  private readonly ending = new Map<string, Promise<{ rowsDropped: number; known: boolean }>>();
  readonly incoming: IncomingMigrations;

  constructor(private readonly node: PsNode, private readonly log: Logger, private readonly credentials?: grpc.ChannelCredentials) {
    this.incoming = new IncomingMigrations(node);
  }

  async begin(req: { migrationId: string; buckets: Buffer; targetAddr: string; shardMapVersion: number; sourceId?: number | null }): Promise<object> {
    const id = checkCheckpointId(req.migrationId, 'migration_id');
    if (req.shardMapVersion !== this.node.shardMapVersion) {
      throw new TesseraError(ERROR_CODES.STALE_SHARD_MAP, `shard_map_version: the migration was planned from version ${req.shardMapVersion}, this PS serves version ${this.node.shardMapVersion}`);
    }
    if (!/^.+:\d{1,5}$/.test(req.targetAddr)) throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `target_addr: must be "host:port", got ${JSON.stringify(req.targetAddr)}`);
    const buckets = bucketMaskFromBytes(req.buckets, this.node.bucketCount, 'buckets');
    const owned = this.node.ownedBuckets;
    for (let b = 0; b < buckets.length; b++) {
      if (buckets[b] === 1 && owned !== null && owned[b] === 0) throw new TesseraError(ERROR_CODES.WRONG_SHARD, `buckets: bucket ${b} is not owned by this PS at shard-map version ${this.node.shardMapVersion}`);
    }
    const cur = this.outgoing;
    if (cur && (cur.id !== id || cur.fenced)) throw precondition(`migration_id: migration "${cur.id}" is ${cur.fenced ? 'fenced' : 'in progress'} on this PS; end it first`);
    if (this.busy) throw precondition(`migration "${cur?.id}": a round is still being sent; wait for its answer`);
    this.outgoing = new OutgoingMigration(this.node, { id, buckets, targetAddr: req.targetAddr, sourceId: req.sourceId ?? undefined });
    this.toTarget?.close();
    this.toTarget = migrationClient(req.targetAddr, { credentials: this.credentials });
    return this.sendRound(this.outgoing, false);
  }

  async tail(req: { migrationId: string; fence: boolean }): Promise<object> {
    const m = this.outgoing;
    if (!m || m.id !== req.migrationId) throw precondition(`migration_id: no migration "${req.migrationId}" is in progress on this PS; begin it first`);
    return this.sendRound(m, req.fence);
  }

  /**
   * Ends migration `id` on this PS. The rows to drop go in slices (drop-rows.ts) while the PS
   * serves; the answer waits for them, and an end sent again meanwhile waits for the same drop.
   */
  async end(req: { migrationId: string; commit: boolean }): Promise<object> {
    const pending = this.ending.get(req.migrationId);
    if (pending) return pending;
    const ending = this.endNow(req).finally(() => this.ending.delete(req.migrationId));
    this.ending.set(req.migrationId, ending);
    return ending;
  }

  private async endNow(req: { migrationId: string; commit: boolean }): Promise<{ rowsDropped: number; known: boolean }> {
    const m = this.outgoing;
    let moved: Uint8Array | null = null;
    let known = false;
    if (m && m.id === req.migrationId) {
      if (req.commit) moved = this.movedAway(m);
      m.release();
      this.outgoing = null;
      this.toTarget?.close();
      this.toTarget = null;
      known = true;
    }
    const dropped = moved ? await dropBucketRows(this.node, moved) : 0;
    const inc = await this.incoming.end(req.migrationId, req.commit);
    const rowsDropped = dropped + inc.rowsDropped;
    this.log.info({ migration: req.migrationId, commit: req.commit, rowsDropped }, 'migration ended');
    return { rowsDropped, known: known || inc.known };
  }

  /** The source drops the moved rows only once it no longer owns them (the new map is installed): their buckets. */
  private movedAway(m: OutgoingMigration): Uint8Array {
    const owned = this.node.ownedBuckets;
    for (let b = 0; b < m.buckets.length; b++) {
      if (m.buckets[b] === 1 && (owned === null || owned[b] === 1)) {
        throw precondition(`commit: bucket ${b} of migration "${m.id}" is still owned by this PS at shard-map version ${this.node.shardMapVersion}; install the new shard map before committing`);
      }
    }
    return m.buckets;
  }

  private async sendRound(m: OutgoingMigration, fence: boolean): Promise<object> {
    if (this.busy) throw precondition(`migration "${m.id}": a round is still being sent; wait for its answer`);
    this.busy = true;
    const t0 = performance.now();
    const totals: RoundTotals = { rows: 0, tombstones: 0, chunks: 0, bytes: 0 };
    try {
      let identities = 0;
      const applied = (): Buffer[] => {
        const bytes = m.appliedSince();
        identities = bytes.byteLength / APPLIED_ENTRY_BYTES;
        const pieces: Buffer[] = [];
        for (let at = 0; at < bytes.byteLength; at += APPLIED_PER_MESSAGE * APPLIED_ENTRY_BYTES) pieces.push(bytes.subarray(at, at + APPLIED_PER_MESSAGE * APPLIED_ENTRY_BYTES));
        return pieces;
      };
      const acked = await sendChunks(m.targetAddr, m.id, bucketMaskToBytes(m.buckets), m.round(fence, totals), {
        timeoutMs: ROUND_TIMEOUT_MS, credentials: this.credentials, client: this.toTarget ?? undefined, applied,
      });
      if (acked.rows !== totals.rows || acked.chunks !== totals.chunks || Number(acked.applied) !== identities) {
        throw new TesseraError(ERROR_CODES.INTERNAL, `migration "${m.id}": sent ${totals.rows} rows in ${totals.chunks} chunks and ${identities} push identities, ${m.targetAddr} applied ${acked.rows} in ${acked.chunks} and ${acked.applied}`);
      }
      m.roundAcked();
      const micros = Math.round((performance.now() - t0) * 1000);
      this.log.info({ migration: m.id, round: m.rounds, fence, ...totals, identities, micros }, 'migration round sent');
      return { ...totals, micros };
    } finally {
      this.busy = false;
    }
  }

  receive(call: grpc.ServerReadableStream<ChunkMessage, object>, cb: grpc.sendUnaryData<object>): void {
    const totals = { rows: 0, tombstones: 0, chunks: 0, applied: 0 };
    let failed = false;
    call.on('data', (msg: ChunkMessage) => {
      if (failed) return;
      try {
        const undecodable = undecodableError(msg, 'ReceiveBuckets');
        if (undecodable) throw undecodable;
        const id = checkCheckpointId(msg.migrationId, 'migration_id');
        if (msg.buckets.byteLength > 0) this.incoming.stage(id, bucketMaskFromBytes(msg.buckets, this.node.bucketCount, 'buckets'));
        if (msg.applied.byteLength > 0) totals.applied += this.incoming.inherit(id, msg.applied);
        if (msg.chunk.byteLength === 0) return;
        const r = this.incoming.apply(id, msg.chunk);
        totals.rows += r.rows;
        totals.tombstones += r.tombstones;
        totals.chunks++;
      } catch (err) {
        failed = true;
        cb(toServiceError(err));
      }
    });
    call.on('end', () => { if (!failed) cb(null, totals); });
    call.on('error', () => { failed = true; });
  }
}

/**
 * Registers tessera.v1.PsMigration for `node` on `server`; `credentials` are what this PS
 * presents when it streams rows to a target PS (its own mutual TLS identity; absent: plaintext).
 */
export function addMigrationService(server: grpc.Server, node: PsNode, logger: Logger, credentials?: grpc.ChannelCredentials): void {
  const h = new MigrationHandlers(node, logger.child({ component: 'migration' }), credentials);
  const unary = <Req>(method: string, body: (req: Req) => object | Promise<object>) => (call: grpc.ServerUnaryCall<Req, object>, cb: grpc.sendUnaryData<object>) => {
    const undecodable = undecodableError(call.request, method);
    if (undecodable) return cb(toServiceError(undecodable));
    Promise.resolve().then(() => body(call.request)).then((res) => cb(null, res), (err: unknown) => cb(toServiceError(err)));
  };
  server.addService(tolerantService(psMigrationService().service), {
    BeginMigration: unary('BeginMigration', (req: Parameters<MigrationHandlers['begin']>[0]) => h.begin(req)),
    SendTail: unary('SendTail', (req: Parameters<MigrationHandlers['tail']>[0]) => h.tail(req)),
    EndMigration: unary('EndMigration', (req: Parameters<MigrationHandlers['end']>[0]) => h.end(req)),
    ReceiveBuckets: (call: grpc.ServerReadableStream<ChunkMessage, object>, cb: grpc.sendUnaryData<object>) => h.receive(call, cb),
  });
}
