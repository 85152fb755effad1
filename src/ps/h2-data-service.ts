/**
 * tessera.v1.ParameterServer served on node:http2 (`--data-plane http2`, ADR 0038): the same four
 * methods, messages, statuses and in-band stream errors as the grpc-js adapter (data-service.ts),
 * through the same handlers, on the PS's one port; admin, migration and health stay on grpc-js.
 */
import type * as grpc from '@grpc/grpc-js';
import {
  decodePullRequest, decodePushRequest, encodePullResponse, encodePushResponse, PullResponseMsg, PushResponseMsg,
} from '../wire/data-plane-codec';
import { AnswerPool } from '../wire/answer-pool';
import { frameMessage } from '../wire/grpc-frames';
import { Http2Method, serveOnHttp2 } from '../wire/h2-data-server';
import { PARAMETER_SERVER_SERVICE } from '../wire/services';
import type { TesseraError } from '../common/errors';
import type { PeerCertificate } from 'node:tls';
import type { CutHold } from './cut-hold';
import { answerInBand, dataHandlers } from './data-service';
import type { PsMetrics } from './ps-metrics';
import type { PsNode } from './ps-node';

/** A pull answer framed for the wire: the gathered buffer itself when the PS allocated it. */
function pullFrame(res: PullResponseMsg): Buffer {
  return res.frame ?? frameMessage(encodePullResponse(res));
}

/** A streamed method's answer to one message: served, or the failure in-band; never throws. */
function inBand<Req, Res>(decode: (m: Buffer) => Req, serve: (req: Req) => Res | Promise<Res>, failed: (req: Req, err: unknown) => Res, frame: (res: Res) => Buffer) {
  return (message: Buffer): Buffer | Promise<Buffer> => {
    const res = answerInBand(serve, failed, decode(message));
    return res instanceof Promise ? res.then(frame) : frame(res);
  };
}

/** A push's framed answer, now or (held by a cut) later. */
function pushFrame(res: PushResponseMsg | Promise<PushResponseMsg>): Buffer | Promise<Buffer> {
  const frame = (r: PushResponseMsg): Buffer => frameMessage(encodePushResponse(r));
  return res instanceof Promise ? res.then(frame) : frame(res);
}

/** What the node:http2 data plane needs besides the PsNode. */
export interface Http2DataOptions {
  /** Largest request message read (bytes): the transport's limit, above the PS's own check. */
  receiveLimit: number;
  metrics?: PsMetrics;
  /** Holds tagged pushes while a cut is prepared (ADR 0040), as on the grpc-js plane. */
  hold?: CutHold;
  /** With mutual TLS: the same role check the grpc-js interceptor applies. */
  authorize?: (path: string, cert: PeerCertificate | undefined) => TesseraError | null;
}

/**
 * Serves `node`'s data plane on node:http2 on every listener of the bound `server` (which keeps
 * serving everything else); call after `bindAsync`.
 */
export function serveDataOnHttp2(server: grpc.Server, node: PsNode, opts: Http2DataOptions): void {
  // Pull answers are gathered into reused buffers, each given back once HTTP/2 has written it.
  const answers = new AnswerPool();
  const h = dataHandlers(node, opts.metrics, opts.hold, (n) => answers.take(n));
  const sent = (frame: Buffer): void => answers.give(frame);
  const pullPaused = opts.metrics ? () => opts.metrics!.pull.paused() : undefined;
  const pushPaused = opts.metrics ? () => opts.metrics!.push.paused() : undefined;
  const methods = new Map<string, Http2Method>([
    // Every handler copies what it keeps of a request (a pull's ids into the index probe, a
    // push's gradients into the rows, its step positions into the step ledger, the replication
    // log its own copy), so a request answered at once is read into a reused buffer; a push held
    // by a cut answers with a promise and keeps its buffer (ADR 0045).
    [PARAMETER_SERVER_SERVICE.Pull.path, { streaming: false, reuseRequests: true, sent, answer: (m) => pullFrame(h.pull(decodePullRequest(m))) }],
    [PARAMETER_SERVER_SERVICE.Push.path, { streaming: false, reuseRequests: true, answer: (m) => pushFrame(h.push(decodePushRequest(m))) }],
    [PARAMETER_SERVER_SERVICE.PullStream.path, {
      streaming: true, reuseRequests: true, sent, onPause: pullPaused, answer: inBand(decodePullRequest, h.pull, h.pullFailed, pullFrame),
    }],
    [PARAMETER_SERVER_SERVICE.PushStream.path, {
      streaming: true, reuseRequests: true, onPause: pushPaused, answer: inBand(decodePushRequest, h.push, h.pushFailed, (res) => frameMessage(encodePushResponse(res))),
    }],
  ]);
  serveOnHttp2(server, { methods, receiveLimit: opts.receiveLimit, authorize: opts.authorize });
}
