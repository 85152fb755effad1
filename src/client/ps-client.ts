/**
 * A client of the PS of one shard map: `data` (pull, push, flush), `admin` (shard map, tables,
 * dense assignment, export, stats) and `checkpoints` (snapshot, status, restore), sharing one
 * connection per PS and one retry policy. Callers use the part they need; the worker's training
 * loop sees it through ParameterAccess (src/worker/ps-params.ts).
 *
 * ```ts
 * const ps = new PsClient({ shardMap: planShardMap(endpoints), logger, maxInflightPushes: 2 });
 * await ps.admin.installShardMap();
 * await ps.admin.createTable({ name: 'user', kind: 'embedding', dim: 16, optimizer: { kind: 'adagrad', lr: 0.05 } });
 * const rows = await ps.data.pull('user', idsFrom([42n, 7n]), 16);
 * await ps.data.push('user', idsFrom([42n, 7n]), grads);
 * await ps.data.flush();
 * ps.close();
 * ```
 */
import type { ShardMap } from '../sharding/shard-map';
import { PsAdminClient } from './admin-client';
import { PsCheckpointClient } from './checkpoint-client';
import { DataClientOptions, PsDataClient } from './data-client';
import { PsFleet, PsFleetOptions } from './ps-fleet';

/** Everything a PsClient is built from: the shard map, logger, call policy and data options. */
export type PsClientOptions = PsFleetOptions & DataClientOptions;

/** The data, admin and checkpoint clients of one shard map, over shared connections. */
export class PsClient {
  readonly data: PsDataClient;
  readonly admin: PsAdminClient;
  readonly checkpoints: PsCheckpointClient;
  private readonly fleet: PsFleet;

  constructor(opts: PsClientOptions) {
    this.fleet = new PsFleet(opts);
    this.data = new PsDataClient(this.fleet, opts);
    this.admin = new PsAdminClient(this.fleet);
    this.checkpoints = new PsCheckpointClient(this.fleet);
  }

  /** The shard map this client routes by. */
  get map(): ShardMap {
    return this.fleet.map;
  }

  /** Waits until every PS accepts connections. */
  waitReady(timeoutMs = 10_000): Promise<void> {
    return this.fleet.waitReady(timeoutMs);
  }

  /** Closes every connection; calls still retrying fail at once. */
  close(): void {
    this.fleet.close();
  }
}
