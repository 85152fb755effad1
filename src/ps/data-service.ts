/**
 * gRPC adapter for tessera.v1.ParameterServer: decodes nothing itself (the codec did), calls
 * PsNode, and maps errors to status codes. Unary calls fail with a gRPC status; streamed calls
 * answer a failed request in-band (`error`) and keep the stream open, a request that did not
 * decode included (its request id if it could be read, else 0: a stream-level error). Streamed
 * answers are written with backpressure: while they are not being read, requests are not read.
 */
import * as grpc from '@grpc/grpc-js';
import {
  allocPullResponse, MessageAlloc, PullRequestMsg, PullResponseMsg, PushRequestMsg, PushResponseMsg,
} from '../wire/data-plane-codec';
import { asBytes } from '../wire/key-block';
import { PARAMETER_SERVER_SERVICE } from '../wire/services';
import { toRpcError, toServiceError } from '../wire/status-map';
import { OrderedAnswers } from '../wire/ordered-answers';
import { writeOrPause } from '../wire/stream-writes';
import type { CutHold } from './cut-hold';
import { heldPush } from './held-push';
import type { OpRecorder, PsMetrics } from './ps-metrics';
import type { PsNode } from './ps-node';

/** `rows` rides along for metrics only; the encoders write named fields and ignore it. */
export type Served<M> = M & { rows: number };

/**
 * Runs a pull and returns the pre-encoded response (values, and versions if asked, written in
 * place), in a buffer from `alloc` when given (the node:http2 plane's answer pool).
 */
const servePullInto = (alloc?: MessageAlloc) => (node: PsNode, req: PullRequestMsg): Served<PullResponseMsg> => {
  let encoded: Buffer | undefined;
  let frame: Buffer | undefined;
  let versions: Uint32Array | null = null;
  const rows = node.pull(req, (bytes, dim, versionRows) => {
    const r = allocPullResponse(req.requestId, dim, req.encoding, bytes, versionRows, alloc);
    encoded = r.encoded;
    frame = r.frame;
    versions = r.versions;
    return r.values;
  }, () => versions!);
  return { requestId: req.requestId, values: new Uint8Array(0), dim: 0, encoding: req.encoding, encoded, frame, rows };
};

/** A push answered now, or (tagged, while a cut holds it: ADR 0040) once the cut applies it. */
function servePushThrough(hold: CutHold | undefined) {
  return (node: PsNode, req: PushRequestMsg): Served<PushResponseMsg> | Promise<Served<PushResponseMsg>> => {
    const tag = req.stepTag;
    if (!hold || !tag || req.malformed !== undefined) return servePush(node, req);
    return heldPush(node, hold, { ...req, stepTag: tag }, () => servePush(node, req),
      (rowsApplied) => ({ requestId: req.requestId, rowsApplied, rows: req.ids.byteLength ? req.ids.byteLength >>> 3 : 1 }));
  };
}

function servePush(node: PsNode, req: PushRequestMsg): Served<PushResponseMsg> {
  let versions: Uint32Array | undefined;
  const rowsApplied = node.push(req, (n) => (versions = new Uint32Array(n)));
  // Rows as PsNode counts them: ids sent (8 bytes each), or 1 for a dense table.
  return { requestId: req.requestId, rowsApplied, versions: versions && asBytes(versions), rows: req.ids.byteLength ? req.ids.byteLength >>> 3 : 1 };
}

/** Runs `serve` and records its outcome and latency on `rec` (when metrics are on); a later answer when it comes. */
function timed<Req, Res extends { rows: number }>(rec: OpRecorder | undefined, serve: (node: PsNode, req: Req) => Res | Promise<Res>, node: PsNode, req: Req): Res | Promise<Res> {
  if (!rec) return serve(node, req);
  const start = performance.now();
  try {
    const res = serve(node, req);
    if (res instanceof Promise) return res.then((r) => { rec.ok(start, r.rows); return r; }, (err: unknown) => { rec.error(start); throw err; });
    rec.ok(start, res.rows);
    return res;
  } catch (err) {
    rec.error(start);
    throw err;
  }
}

/** A unary handler: the answer (now, or when a held push is applied), or the error as a gRPC status. */
function unaryCall<Req, Res>(serve: (req: Req) => Res | Promise<Res>) {
  return (call: grpc.ServerUnaryCall<Req, Res>, cb: grpc.sendUnaryData<Res>): void => {
    try {
      const res = serve(call.request);
      if (res instanceof Promise) res.then((r) => cb(null, r), (err: unknown) => cb(toServiceError(err)));
      else cb(null, res);
    } catch (err) {
      cb(toServiceError(err));
    }
  };
}

/** A bidi handler: one answer per request, in request order, a failed one answered in-band by `failed`. */
function streamCall<Req, Res>(serve: (req: Req) => Res | Promise<Res>, failed: (req: Req, err: unknown) => Res, rec?: OpRecorder) {
  const onPause = rec ? () => rec.paused() : undefined;
  return (call: grpc.ServerDuplexStream<Req, Res>): void => {
    // A held push's answer may come after the client went away: nothing to write then.
    const answers = new OrderedAnswers<Res>((res) => { if (!call.cancelled && !call.destroyed) writeOrPause(call as grpc.ServerDuplexStream<unknown, unknown>, res, onPause); });
    call.on('data', (req: Req) => answers.add(answerInBand(serve, failed, req)));
    call.on('end', () => answers.afterAll(() => call.end()));
    call.on('error', () => undefined); // client went away; nothing to clean up
  };
}

/**
 * The data plane of one PsNode, whatever carries it (grpc-js here, node:http2 in
 * h2-data-service.ts): each request served and recorded on `metrics`, and the in-band answer of
 * a streamed request that failed.
 */
export interface DataHandlers {
  pull(req: PullRequestMsg): Served<PullResponseMsg>;
  /** Answered later (a promise) only for a tagged push held by a cut (ADR 0040). */
  push(req: PushRequestMsg): Served<PushResponseMsg> | Promise<Served<PushResponseMsg>>;
  pullFailed(req: PullRequestMsg, err: unknown): PullResponseMsg;
  pushFailed(req: PushRequestMsg, err: unknown): PushResponseMsg;
}

/**
 * The data-plane handlers of `node`; `metrics` (optional) records each request; `hold` (optional)
 * holds tagged pushes while a cut is prepared (ADR 0040); `pullAlloc` (optional) is where pull
 * answers are encoded (the node:http2 plane's answer pool; default a fresh buffer each).
 */
export function dataHandlers(node: PsNode, metrics?: PsMetrics, hold?: CutHold, pullAlloc?: MessageAlloc): DataHandlers {
  const push = servePushThrough(hold);
  const servePull = servePullInto(pullAlloc);
  return {
    pull: (req) => timed(metrics?.pull, servePull, node, req) as Served<PullResponseMsg>,
    push: (req) => timed(metrics?.push, push, node, req),
    pullFailed: (req, err) => ({ requestId: req.requestId, values: new Uint8Array(0), dim: 0, encoding: req.encoding, error: toRpcError(err) }),
    pushFailed: (req, err) => ({ requestId: req.requestId, rowsApplied: 0, error: toRpcError(err) }),
  };
}

/** Registers the data-plane service for `node` on `server`; `metrics` and `hold` as in {@link dataHandlers}. */
export function addDataService(server: grpc.Server, node: PsNode, metrics?: PsMetrics, hold?: CutHold): void {
  const h = dataHandlers(node, metrics, hold);
  server.addService(PARAMETER_SERVER_SERVICE, {
    Pull: unaryCall(h.pull),
    Push: unaryCall(h.push),
    PullStream: streamCall(h.pull, h.pullFailed, metrics?.pull),
    PushStream: streamCall(h.push, h.pushFailed, metrics?.push),
  });
}

/**
 * One streamed request's answer: the served answer (now or later), or its failure in-band. Never
 * a rejected promise, so the stream's answers keep flowing.
 */
export function answerInBand<Req, Res>(serve: (req: Req) => Res | Promise<Res>, failed: (req: Req, err: unknown) => Res, req: Req): Res | Promise<Res> {
  try {
    const res = serve(req);
    return res instanceof Promise ? res.catch((err: unknown) => failed(req, err)) : res;
  } catch (err) {
    return failed(req, err);
  }
}
