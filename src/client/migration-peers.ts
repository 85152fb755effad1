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
import { MigrationLink } from '../wire/migration-client';
import { shardMapRequest } from './admin-client';
import { PsClient } from './ps-client';

/**
 * Deadline of BeginMigration, SendTail and EndMigration: the PS answers once the target has loaded
 * the whole round, or once it has dropped the moved rows, and for 10M rows either takes seconds
 * to tens of seconds here; ten minutes leaves room for a loaded machine while still ending a call
 * whose PS hung.
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

/**
 * PsMigration and SetShardMap calls over gRPC, presenting `credentials` (the chief's identity).
 * A migration's calls to one PS share one kept connection (MigrationLink), opened by its first
 * call and closed by its EndMigration (the last call of a migration on each PS), or by `close`.
 */
export class GrpcMigrationPeers {
  private readonly links = new Map<string, MigrationLink>();

  constructor(private readonly opts: { logger: Logger; credentials?: ChannelCredentials }) {}

  /** Source `addr`: cuts `buckets` and copies them to `targetAddr`; resolves when the target has them. */
  async begin(addr: string, req: MigrationBegin): Promise<MigrationRound> {
    const buckets = Buffer.from(Uint32Array.from(req.buckets).buffer);
    return round(await this.link(addr).call('BeginMigration', { ...req, buckets }, ROUND_CALL_TIMEOUT_MS));
  }

  /** Source `addr`: sends what changed since the previous round; `fence` first refuses pushes to the moving buckets. */
  async tail(addr: string, migrationId: string, fence: boolean): Promise<MigrationRound> {
    return round(await this.link(addr).call('SendTail', { migrationId, fence }, ROUND_CALL_TIMEOUT_MS));
  }

  /** Source or target `addr`: ends the migration (commit, or roll back); closes the connection to it. */
  async end(addr: string, migrationId: string, commit: boolean): Promise<{ rowsDropped: number; known: boolean }> {
    try {
      const res = await this.link(addr).call<{ rowsDropped: number | string; known: boolean }>('EndMigration', { migrationId, commit }, ROUND_CALL_TIMEOUT_MS);
      return { rowsDropped: Number(res.rowsDropped), known: res.known };
    } finally {
      this.links.get(addr)?.close();
      this.links.delete(addr);
    }
  }

  /**
   * Installs `map` on each of its PS (one owning no bucket in it owns none), on the kept
   * connections, calling `onInstalled(addr)` as each PS has it; if that fails, once more through
   * a PsClient, which retries what is retryable.
   */
  async install(map: ShardMap, onInstalled?: (addr: string) => void): Promise<void> {
    try {
      await Promise.all(map.ps.map(async (p, i) => {
        await this.link(p.addr).setShardMap(shardMapRequest(map, i));
        onInstalled?.(p.addr);
      }));
      return;
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message, version: map.version }, 'installing the shard map on the kept connections failed; retrying through a PS client');
    }
    const client = new PsClient({ shardMap: map, logger: this.opts.logger, credentials: this.opts.credentials, maxInflightPushes: 0 });
    try {
      await client.admin.installShardMap();
      for (const p of map.ps) onInstalled?.(p.addr);
    } finally {
      client.close();
    }
  }

  /** Closes every kept connection. */
  close(): void {
    for (const l of this.links.values()) l.close();
    this.links.clear();
  }

  private link(addr: string): MigrationLink {
    let l = this.links.get(addr);
    if (!l) {
      l = new MigrationLink(addr, { credentials: this.opts.credentials });
      this.links.set(addr, l);
    }
    return l;
  }
}

/** uint64 fields arrive as strings (longs: String); the figures here fit a double. */
function round(res: Record<string, number | string>): MigrationRound {
  return { rows: Number(res.rows), tombstones: Number(res.tombstones), chunks: Number(res.chunks), bytes: Number(res.bytes), micros: Number(res.micros) };
}
