/**
 * The chief's calls to the PS during a live resharding (issue 17), over gRPC: BeginMigration,
 * SendTail and EndMigration on a PS's PsMigration service, and SetShardMap through a PsClient.
 * The chief's migration driver takes these through its `MigrationPeers` interface, so it stays
 * free of transport.
 *
 * ```ts
 * const peers = new GrpcMigrationPeers({ logger, credentials });
 * await peers.begin('127.0.0.1:7001', { migrationId: 'mig-v2', buckets: [3, 9], targetAddr: '127.0.0.1:7003', shardMapVersion: 1, sourceId: 0 });
 * ```
 */
import type { ChannelCredentials } from '@grpc/grpc-js';
import type { Logger } from '../common/logger';
import type { ShardMap } from '../sharding/shard-map';
import { migrationCall } from '../wire/migration-client';
import { PsClient } from './ps-client';

/**
 * Deadline of BeginMigration and SendTail: the PS answers once the target has loaded the whole
 * round, and a first copy of 10M rows takes about 10 s here; ten minutes leaves room for a loaded
 * machine while still ending a round whose PS hung.
 */
const ROUND_CALL_TIMEOUT_MS = 600_000;

/** What one round (the copy or a tail) sent, as the source reports it. */
export interface MigrationRound {
  rows: number;
  tombstones: number;
  chunks: number;
  bytes: number;
  /** Time of the round on the source, cut to acknowledgement. */
  micros: number;
}

/**
 * What starts a migration on a source: the moving buckets, the target, the map version it is
 * planned from, and the source's own PS id (its dedup windows go to the target under it).
 */
export interface MigrationBegin {
  migrationId: string;
  buckets: readonly number[];
  targetAddr: string;
  shardMapVersion: number;
  sourceId?: number;
}

/** PsMigration and SetShardMap calls over gRPC, presenting `credentials` (the chief's identity). */
export class GrpcMigrationPeers {
  constructor(private readonly opts: { logger: Logger; credentials?: ChannelCredentials }) {}

  /** Source `addr`: cuts `buckets` and copies them to `targetAddr`; resolves when the target has them. */
  async begin(addr: string, req: MigrationBegin): Promise<MigrationRound> {
    const buckets = Buffer.from(Uint32Array.from(req.buckets).buffer);
    return round(await migrationCall(addr, 'BeginMigration', { ...req, buckets }, this.call(ROUND_CALL_TIMEOUT_MS)));
  }

  /** Source `addr`: sends what changed since the previous round; `fence` first refuses pushes to the moving buckets. */
  async tail(addr: string, migrationId: string, fence: boolean): Promise<MigrationRound> {
    return round(await migrationCall(addr, 'SendTail', { migrationId, fence }, this.call(ROUND_CALL_TIMEOUT_MS)));
  }

  /** Source or target `addr`: ends the migration (commit, or roll back). */
  async end(addr: string, migrationId: string, commit: boolean): Promise<{ rowsDropped: number; known: boolean }> {
    const res = await migrationCall<{ rowsDropped: number | string; known: boolean }>(addr, 'EndMigration', { migrationId, commit }, this.call());
    return { rowsDropped: Number(res.rowsDropped), known: res.known };
  }

  /** Installs `map` on each of its PS (one owning no bucket in it owns none). */
  async install(map: ShardMap): Promise<void> {
    const client = new PsClient({ shardMap: map, logger: this.opts.logger, credentials: this.opts.credentials, maxInflightPushes: 0 });
    try {
      await client.admin.installShardMap();
    } finally {
      client.close();
    }
  }

  private call(timeoutMs?: number): { credentials?: ChannelCredentials; timeoutMs?: number } {
    return { credentials: this.opts.credentials, timeoutMs };
  }
}

/** uint64 fields arrive as strings (longs: String); the figures here fit a double. */
function round(res: Record<string, number | string>): MigrationRound {
  return { rows: Number(res.rows), tombstones: Number(res.tombstones), chunks: Number(res.chunks), bytes: Number(res.bytes), micros: Number(res.micros) };
}
