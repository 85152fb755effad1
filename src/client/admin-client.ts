/**
 * The PS control plane from the caller's side (the chief, `tessera train`, tools): install the
 * shard map, create and drop tables, offer a model's initial dense weights, export rows, read
 * stats. One typed request and response per RPC (admin-messages.ts); retried like every call.
 *
 * ```ts
 * const ps = new PsClient({ shardMap, logger });
 * await ps.admin.installShardMap();
 * await ps.admin.createTable({ name: 'emb', kind: 'embedding', dim: 16, optimizer: { kind: 'adagrad', lr: 0.05 } });
 * ```
 */
import type { TableSpec } from '../ps/store/table-spec';
import { tableSpecToWire } from '../ps/table-spec-wire';
import { bucketsOwnedBy, ShardMap } from '../sharding/shard-map';
import { asBytes, f32FromBytes, IdArray, idsFromBytes } from '../wire/key-block';
import type { PsConnection } from '../wire/ps-connection';
import type { AdminRpcs, StatsResponse } from './admin-messages';
import type { PsFleet } from './ps-fleet';

/** Calls unary PsAdmin `method` on `conn`, typed by AdminRpcs, with the fleet's retries. */
export function adminCall<M extends keyof AdminRpcs>(
  fleet: PsFleet, conn: PsConnection, method: M, req: AdminRpcs[M]['req'], timeoutMs = fleet.callTimeoutMs,
): Promise<AdminRpcs[M]['res']> {
  return fleet.call(`${method} on ${conn.addr}`, () => conn.adminCall<AdminRpcs[M]['res']>(method, req, timeoutMs));
}

/** The SetShardMap request that installs `map` on its PS at position `i` (owning none when it owns no bucket). */
export function shardMapRequest(map: ShardMap, i: number): AdminRpcs['SetShardMap']['req'] {
  const owned = bucketsOwnedBy(map, i);
  return { version: map.version, psIndex: i, numBuckets: map.numBuckets, ownedBuckets: asBytes(Uint32Array.from(owned)), ownsNone: owned.length === 0 };
}

/** Table lifecycle, shard-map installation, dense assignment, export and stats. */
export class PsAdminClient {
  constructor(private readonly fleet: PsFleet) {}

  /** Installs the fleet's shard map on every PS (the chief's job in a cluster); a PS of the map owning no bucket owns none. */
  async installShardMap(): Promise<void> {
    const m = this.fleet.map;
    await Promise.all(this.fleet.conns.map((c, i) => adminCall(this.fleet, c, 'SetShardMap', shardMapRequest(m, i))));
  }

  /**
   * Creates an embedding table on every PS, or a dense table on its owner. Idempotent. Returns,
   * per PS (stable id), whether it created the table and the table's incarnation there.
   */
  async createTable(spec: TableSpec): Promise<{ psId: number; created: boolean; incarnation: number }[]> {
    const req = { spec: tableSpecToWire(spec) };
    const { map, conns } = this.fleet;
    const targets = spec.kind === 'dense' ? [this.fleet.ownerOfDense(spec.name)] : conns.map((_, i) => i);
    return Promise.all(targets.map(async (i) => ({ psId: map.ps[i].id, ...await adminCall(this.fleet, conns[i], 'CreateTable', req) })));
  }

  /** Drops table `name` on every PS (a PS without it answers `dropped: false`). */
  async dropTable(name: string): Promise<void> {
    await Promise.all(this.fleet.conns.map((c) => adminCall(this.fleet, c, 'DropTable', { name })));
  }

  /**
   * Offers a dense table's values (a model's initial weights). With `onlyIfFresh` the first
   * caller wins; returns whether this call assigned them.
   */
  async assignDense(table: string, values: Float32Array, onlyIfFresh = true): Promise<boolean> {
    const res = await adminCall(this.fleet, this.fleet.denseConnection(table), 'AssignDense', { table, values: asBytes(values), onlyIfFresh });
    return res.assigned;
  }

  /**
   * Streams every row of an embedding table from every PS (ids and weights per chunk), or a
   * dense table's values from its owner (one chunk, no ids).
   */
  async *exportTable(table: string, kind: 'embedding' | 'dense', timeoutMs = 600_000): AsyncGenerator<{ ids: IdArray; values: Float32Array; dim: number }> {
    const conns = kind === 'dense' ? [this.fleet.denseConnection(table)] : this.fleet.conns;
    for (const c of conns) {
      for await (const chunk of c.exportTable(table, timeoutMs)) {
        yield { ids: idsFromBytes(chunk.ids), values: f32FromBytes(chunk.values), dim: chunk.dim };
      }
    }
  }

  /** Stats of every PS, in shard-map order. */
  stats(): Promise<StatsResponse[]> {
    return Promise.all(this.fleet.conns.map((c) => adminCall(this.fleet, c, 'Stats', {})));
  }

  /**
   * Stats of every PS, one attempt each with deadline `timeoutMs`: undefined for a PS that did
   * not answer. For periodic checks that must not stall on a PS that is down.
   */
  statsOnce(timeoutMs: number): Promise<(StatsResponse | undefined)[]> {
    return Promise.all(this.fleet.conns.map((c) => c.adminCall<StatsResponse>('Stats', {}, timeoutMs).catch(() => undefined)));
  }
}
