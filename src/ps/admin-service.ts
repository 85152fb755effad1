/**
 * gRPC adapter for tessera.v1.PsAdmin: table lifecycle, shard-map fencing and stats.
 */
import * as grpc from '@grpc/grpc-js';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { asBytes, f32FromBytes } from '../wire/key-block';
import { psAdminService } from '../wire/services';
import { toServiceError } from '../wire/status-map';
import type { Logger } from '../common/logger';
import { silentLogger } from '../common/logger';
import { checkpointHandlers } from './checkpoint/checkpoint-handlers';
import type { PsNode } from './ps-node';
import { tableSpecFromWire, WireTableSpec } from './table-spec-wire';

/** Rows per ExportTable chunk when the request leaves it 0. */
const DEFAULT_EXPORT_CHUNK_ROWS = 65_536;

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

/** Like `unary`, for handlers that finish asynchronously. */
function unaryAsync<Req, Res>(body: (req: Req) => Promise<Res>): Unary<Req, Res> {
  return (call, cb) => {
    body(call.request).then((res) => cb(null, res), (err: unknown) => cb(toServiceError(err)));
  };
}

/** Registers the admin service for `node` on `server`. */
export function addAdminService(server: grpc.Server, node: PsNode, logger: Logger = silentLogger()): void {
  const ckpt = checkpointHandlers(node, logger);
  server.addService(psAdminService().service, {
    Snapshot: unary(ckpt.snapshot),
    SnapshotStatus: unary(ckpt.snapshotStatus),
    Restore: unaryAsync(ckpt.restore),
    CreateTable: unary((req: { spec: WireTableSpec }) => {
      const spec = tableSpecFromWire(req.spec);
      return { created: node.createTable(spec), incarnation: node.store.incarnation(spec.name) };
    }),
    DropTable: unary((req: { name: string }) => ({ dropped: node.dropTable(req.name) })),
    SetShardMap: unary((req: { version: number; psIndex: number; numBuckets: number; ownedBuckets: Buffer }) => {
      const owned = req.ownedBuckets.byteLength === 0 ? null : Uint32Array.from(
        { length: req.ownedBuckets.byteLength >>> 2 }, (_, i) => req.ownedBuckets.readUInt32LE(i * 4));
      return { previousVersion: node.setShardMap(req.version, req.numBuckets, owned) };
    }),
    AssignDense: unary((req: { table: string; values: Buffer; onlyIfFresh: boolean }) => {
      if (req.values.byteLength % 4 !== 0) throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `values: ${req.values.byteLength} bytes is not a multiple of 4`);
      return { assigned: node.assignDense(req.table, f32FromBytes(req.values), req.onlyIfFresh) };
    }),
    ExportTable: (call: grpc.ServerWritableStream<{ table: string; chunkRows: number }, object>) => {
      try {
        for (const c of node.exportRows(call.request.table, call.request.chunkRows || DEFAULT_EXPORT_CHUNK_ROWS)) {
          call.write({ ids: asBytes(c.ids), values: asBytes(c.values), dim: c.dim });
        }
        call.end();
      } catch (err) {
        call.destroy(toServiceError(err) as Error);
      }
    },
    Stats: unary(() => {
      const s = node.stats();
      return {
        tables: s.tables.map((t) => ({
          name: t.name, kind: t.kind === 'dense' ? 'DENSE' : 'EMBEDDING', dim: t.dim, rows: t.rows,
          bytes: t.bytes, optimizer: t.optimizer, incarnation: t.incarnation,
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
