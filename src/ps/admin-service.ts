/**
 * gRPC adapter for tessera.v1.PsAdmin: table lifecycle, shard-map fencing and stats.
 */
import * as grpc from '@grpc/grpc-js';
import { psAdminService } from '../wire/services';
import { toServiceError } from '../wire/status-map';
import type { PsNode } from './ps-node';
import { tableSpecFromWire, WireTableSpec } from './table-spec-wire';

type Unary<Req, Res> = (call: grpc.ServerUnaryCall<Req, Res>, cb: grpc.sendUnaryData<Res>) => void;

/** Wraps a handler body so any thrown error becomes a gRPC status. */
function unary<Req, Res>(body: (req: Req) => Res): Unary<Req, Res> {
  return (call, cb) => {
    try {
      cb(null, body(call.request));
    } catch (err) {
      cb(toServiceError(err));
    }
  };
}

/** Registers the admin service for `node` on `server`. */
export function addAdminService(server: grpc.Server, node: PsNode): void {
  server.addService(psAdminService().service, {
    CreateTable: unary((req: { spec: WireTableSpec }) => ({ created: node.createTable(tableSpecFromWire(req.spec)) })),
    DropTable: unary((req: { name: string }) => ({ dropped: node.dropTable(req.name) })),
    SetShardMap: unary((req: { version: number; psIndex: number; numBuckets: number; ownedBuckets: Buffer }) => {
      const owned = req.ownedBuckets.byteLength === 0 ? null : Uint32Array.from(
        { length: req.ownedBuckets.byteLength >>> 2 }, (_, i) => req.ownedBuckets.readUInt32LE(i * 4));
      return { previousVersion: node.setShardMap(req.version, req.numBuckets, owned) };
    }),
    Stats: unary(() => {
      const s = node.stats();
      return {
        tables: s.tables.map((t) => ({
          name: t.name, kind: t.kind === 'dense' ? 'DENSE' : 'EMBEDDING', dim: t.dim, rows: t.rows,
          bytes: t.bytes, optimizer: t.optimizer,
        })),
        shardMapVersion: s.shardMapVersion,
        pulls: s.counters.pulls,
        pushes: s.counters.pushes,
        rowsPulled: s.counters.rowsPulled,
        rowsPushed: s.counters.rowsPushed,
        rejected: s.counters.rejected,
        rssBytes: process.memoryUsage.rss(),
        uptimeS: s.uptimeS,
      };
    }),
  });
}
