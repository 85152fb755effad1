/**
 * gRPC adapter for tessera.v1.PsAdmin: table lifecycle, shard-map fencing and stats.
 */
import * as grpc from '@grpc/grpc-js';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { asBytes, f32FromBytes } from '../wire/key-block';
import { psAdminService } from '../wire/services';
import { toServiceError } from '../wire/status-map';
import { writeAll } from '../wire/stream-writes';
import { tolerantService, undecodableError } from '../wire/tolerant-decode';
import type { Logger } from '../common/logger';
import { silentLogger } from '../common/logger';
import { checkpointHandlers } from './checkpoint/checkpoint-handlers';
import { cutHandlers } from './checkpoint/cut-handlers';
import { CutHold } from './cut-hold';
import { CheckpointRoots } from './checkpoint/checkpoint-roots';
import type { PsNode } from './ps-node';
import { DenseTable } from './store/dense-table';
import { tableSpecFromWire, WireTableSpec } from './table-spec-wire';

/** Rows per ExportTable chunk when the request leaves it 0. */
const DEFAULT_EXPORT_CHUNK_ROWS = 65_536;
/** Largest ExportTable chunk: fewer rows per chunk for wide rows, whatever the request asks. */
const MAX_EXPORT_CHUNK_BYTES = 16 << 20;

type Unary<Req, Res> = (call: grpc.ServerUnaryCall<Req, Res>, cb: grpc.sendUnaryData<Res>) => void;

/**
 * Wraps a handler body so any thrown error becomes a gRPC status, and a request that did not
 * decode is INVALID_ARGUMENT. `body` may return a promise (handlers that finish asynchronously).
 */
function unary<Req, Res>(method: string, body: (req: Req) => Res | Promise<Res>): Unary<Req, Res> {
  return (call, cb) => {
    const undecodable = undecodableError(call.request, method);
    if (undecodable) return cb(toServiceError(undecodable));
    try {
      Promise.resolve(body(call.request)).then((res) => cb(null, res), (err: unknown) => cb(toServiceError(err)));
    } catch (err) {
      cb(toServiceError(err));
    }
  };
}

/**
 * ExportTable: the table's rows in chunks, written with backpressure (stopping when the client
 * cancels); an unknown table or an undecodable request ends the call with its status at once.
 */
function exportTable(node: PsNode, logger: Logger) {
  return (call: grpc.ServerWritableStream<{ table: string; chunkRows: number }, object>): void => {
    const fail = (err: unknown) => call.emit('error', toServiceError(err));
    const undecodable = undecodableError(call.request, 'ExportTable');
    if (undecodable) return void fail(undecodable);
    const { table } = call.request;
    let chunks;
    try {
      const t = node.store.get(table);
      const rowBytes = (t instanceof DenseTable ? 1 : t.dim) * 4 + 8;
      const rows = Math.max(1, Math.min(call.request.chunkRows || DEFAULT_EXPORT_CHUNK_ROWS, Math.floor(MAX_EXPORT_CHUNK_BYTES / rowBytes)));
      chunks = [...node.exportRows(table, rows)].map((c) => ({ ids: asBytes(c.ids), values: asBytes(c.values), dim: c.dim }));
    } catch (err) {
      return void fail(err);
    }
    writeAll(call, chunks).then(({ written, cancelled }) => {
      logger.info({ table, chunks: chunks.length, written, cancelled }, cancelled ? 'export cancelled by the client' : 'export done');
    }, fail);
  };
}

/**
 * Registers the admin service for `node` on `server`; `hold` is the cut hold its data plane
 * shares (ADR 0040; a PS server passes its own).
 */
export function addAdminService(server: grpc.Server, node: PsNode, logger: Logger = silentLogger(), roots = new CheckpointRoots([]),
  hold = new CutHold({ logger })): void {
  const ckpt = checkpointHandlers(node, logger, roots);
  const cut = cutHandlers(hold, ckpt.snapshot);
  server.addService(tolerantService(psAdminService().service), {
    PrepareCut: unary('PrepareCut', cut.prepareCut),
    CutAt: unary('CutAt', cut.cutAt),
    ReleaseCut: unary('ReleaseCut', cut.releaseCut),
    Snapshot: unary('Snapshot', ckpt.snapshot),
    SnapshotStatus: unary('SnapshotStatus', ckpt.snapshotStatus),
    Restore: unary('Restore', ckpt.restore),
    CreateTable: unary('CreateTable', (req: { spec: WireTableSpec }) => {
      const spec = tableSpecFromWire(req.spec);
      return { created: node.createTable(spec), incarnation: node.store.incarnation(spec.name) };
    }),
    DropTable: unary('DropTable', (req: { name: string }) => ({ dropped: node.dropTable(req.name) })),
    SetShardMap: unary('SetShardMap', (req: { version: number; psIndex: number; numBuckets: number; ownedBuckets: Buffer; ownsNone: boolean }) => {
      const owned = req.ownsNone ? [] : req.ownedBuckets.byteLength === 0 ? null : Uint32Array.from(
        { length: req.ownedBuckets.byteLength >>> 2 }, (_, i) => req.ownedBuckets.readUInt32LE(i * 4));
      return { previousVersion: node.setShardMap(req.version, req.numBuckets, owned) };
    }),
    AssignDense: unary('AssignDense', (req: { table: string; values: Buffer; onlyIfFresh: boolean }) => {
      if (req.values.byteLength % 4 !== 0) throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `values: ${req.values.byteLength} bytes is not a multiple of 4`);
      return { assigned: node.assignDense(req.table, f32FromBytes(req.values), req.onlyIfFresh) };
    }),
    ExportTable: exportTable(node, logger),
    Stats: unary('Stats', () => {
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
