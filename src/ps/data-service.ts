/**
 * gRPC adapter for tessera.v1.ParameterServer: decodes nothing itself (the codec did), calls
 * PsNode, and maps errors to status codes. Unary calls fail with a gRPC status; streamed calls
 * answer a failed request in-band (`error`) and keep the stream open.
 */
import * as grpc from '@grpc/grpc-js';
import {
  allocPullResponse, PullRequestMsg, PullResponseMsg, PushRequestMsg, PushResponseMsg,
} from '../wire/data-plane-codec';
import { PARAMETER_SERVER_SERVICE } from '../wire/services';
import { toRpcError, toServiceError } from '../wire/status-map';
import type { OpRecorder, PsMetrics } from './ps-metrics';
import type { PsNode } from './ps-node';

/** `rows` rides along for metrics only; the encoders write named fields and ignore it. */
type Served<M> = M & { rows: number };

/** Runs a pull and returns the pre-encoded response (values gathered in place). */
function servePull(node: PsNode, req: PullRequestMsg): Served<PullResponseMsg> {
  let encoded: Buffer | undefined;
  const rows = node.pull(req, (bytes, dim) => {
    const r = allocPullResponse(req.requestId, dim, req.encoding, bytes);
    encoded = r.encoded;
    return r.values;
  });
  return { requestId: req.requestId, values: new Uint8Array(0), dim: 0, encoding: req.encoding, encoded, rows };
}

function servePush(node: PsNode, req: PushRequestMsg): Served<PushResponseMsg> {
  const rowsApplied = node.push(req);
  // Rows as PsNode counts them: ids sent (8 bytes each), or 1 for a dense table.
  return { requestId: req.requestId, rowsApplied, rows: req.ids.byteLength ? req.ids.byteLength >>> 3 : 1 };
}

/** Runs `serve` and records its outcome and latency on `rec` (when metrics are on). */
function timed<Req, Res extends { rows: number }>(rec: OpRecorder | undefined, serve: (node: PsNode, req: Req) => Res, node: PsNode, req: Req): Res {
  if (!rec) return serve(node, req);
  const start = performance.now();
  try {
    const res = serve(node, req);
    rec.ok(start, res.rows);
    return res;
  } catch (err) {
    rec.error(start);
    throw err;
  }
}

/** Registers the data-plane service for `node` on `server`; `metrics` (optional) records each request. */
export function addDataService(server: grpc.Server, node: PsNode, metrics?: PsMetrics): void {
  const pull = (req: PullRequestMsg) => timed(metrics?.pull, servePull, node, req);
  const push = (req: PushRequestMsg) => timed(metrics?.push, servePush, node, req);
  server.addService(PARAMETER_SERVER_SERVICE, {
    Pull(call: grpc.ServerUnaryCall<PullRequestMsg, PullResponseMsg>, cb: grpc.sendUnaryData<PullResponseMsg>) {
      try {
        cb(null, pull(call.request));
      } catch (err) {
        cb(toServiceError(err));
      }
    },
    Push(call: grpc.ServerUnaryCall<PushRequestMsg, PushResponseMsg>, cb: grpc.sendUnaryData<PushResponseMsg>) {
      try {
        cb(null, push(call.request));
      } catch (err) {
        cb(toServiceError(err));
      }
    },
    PullStream(call: grpc.ServerDuplexStream<PullRequestMsg, PullResponseMsg>) {
      call.on('data', (req: PullRequestMsg) => {
        let res: PullResponseMsg;
        try {
          res = pull(req);
        } catch (err) {
          res = { requestId: req.requestId, values: new Uint8Array(0), dim: 0, encoding: req.encoding, error: toRpcError(err) };
        }
        call.write(res);
      });
      call.on('end', () => call.end());
      call.on('error', () => undefined); // client went away; nothing to clean up
    },
    PushStream(call: grpc.ServerDuplexStream<PushRequestMsg, PushResponseMsg>) {
      call.on('data', (req: PushRequestMsg) => {
        let res: PushResponseMsg;
        try {
          res = push(req);
        } catch (err) {
          res = { requestId: req.requestId, rowsApplied: 0, error: toRpcError(err) };
        }
        call.write(res);
      });
      call.on('end', () => call.end());
      call.on('error', () => undefined);
    },
  });
}
