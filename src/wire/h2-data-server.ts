/**
 * Serves chosen gRPC methods directly on `node:http2`, on the same port, TLS and connection
 * limits as a grpc-js server: `serveOnHttp2` takes the 'stream' events of the HTTP/2 listeners a
 * bound grpc.Server owns, answers the streams whose path it serves, and hands every other stream
 * (admin, migration, health) to grpc-js's own handler unchanged.
 *
 * Why: grpc-js spends per message on call objects, metadata, interceptors and a buffer per frame
 * it concatenates; on the data plane's hot path that work and the garbage it leaves were most of
 * the client's and a good part of the PS's CPU (docs/benchmarks.md, issue 18). Here a message is
 * reassembled once into an aligned buffer (grpc-frames.ts), answered synchronously, and a pull's
 * answer goes out as the very buffer the PS gathered its rows into. The wire is unchanged: the
 * same paths, length-prefixed messages and grpc-status trailers, so any gRPC client (grpc-js,
 * Python grpcio) calls these methods as before. ADR 0038 records the decision.
 *
 * The grpc-js listeners are a private field (connection-guard.ts reads it the same way); when a
 * grpc-js upgrade removes it this fails loudly at start-up rather than serve a different plane.
 */
import type * as http2 from 'node:http2';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { http2ServersOf } from './connection-guard';
import { MessageReader, parseGrpcTimeout } from './grpc-frames';
import { statusTrailers, toGrpcTrailers } from './status-map';
import { OrderedAnswers } from './ordered-answers';
import { AnswerPool } from './answer-pool';

/** One method served on node:http2. */
export interface Http2Method {
  /**
   * true: a bidi stream, one answer per request, a failed request answered in-band (`answer`
   * never throws); false: unary, a thrown error becomes the call's status.
   */
  readonly streaming: boolean;
  /**
   * The framed answer (gRPC frame header included) to one request message; a promise when it
   * comes later (a push held by a cut, ADR 0040; a streamed one must never reject). A stream's
   * answers go out in request order.
   */
  answer(message: Buffer): Buffer | Promise<Buffer>;
  /** Called when a stream stops reading requests because its answers are not being read. */
  onPause?(): void;
  /**
   * Called with each answer once HTTP/2 has written it to the socket (the write's callback), so
   * its buffer may be reused (answer-pool.ts); not called for a write that failed.
   */
  sent?(frame: Buffer): void;
  /**
   * True when `answer` keeps no view of the request message once it has returned an answer
   * synchronously (not a promise): requests are then read into reused buffers.
   */
  readonly reuseRequests?: boolean;
}

/** What `serveOnHttp2` serves, and how it guards it. */
export interface Http2ServeOptions {
  /** Full method paths (`/tessera.v1.ParameterServer/Pull`) and their handlers. */
  readonly methods: ReadonlyMap<string, Http2Method>;
  /** Largest request message accepted (bytes); a longer one ends the call RESOURCE_EXHAUSTED. */
  readonly receiveLimit: number;
  /** With TLS: the refusal for a call to `path` by the peer with `cert`, or null to serve it. */
  readonly authorize?: (path: string, cert: PeerCertificate | undefined) => TesseraError | null;
}

const OK_TRAILERS = Object.freeze({ 'grpc-status': '0' });
const RESPONSE_HEADERS = Object.freeze({ ':status': 200, 'content-type': 'application/grpc' });

/**
 * Answers the methods of `opts` on every HTTP/2 listener of the bound `server`; call it after
 * `bindAsync`, before clients connect.
 *
 * ```ts
 * serveOnHttp2(server, { methods: new Map([['/pkg.Svc/Echo', { streaming: false, answer: (m) => frameMessage(m) }]]), receiveLimit: 1 << 20 });
 * ```
 */
export function serveOnHttp2(server: grpc.Server, opts: Http2ServeOptions): void {
  const listeners = http2ServersOf(server);
  if (!listeners) throw new TesseraError(ERROR_CODES.INTERNAL, 'grpc-js internals changed: cannot serve the data plane on node:http2');
  // One pool of request buffers per method: a method's requests are of one size class.
  const requestPools = new Map([...opts.methods].filter(([, m]) => m.reuseRequests).map(([path]) => [path, new AnswerPool()]));
  for (const h2 of listeners) {
    const grpcHandlers = h2.listeners('stream') as Array<(...args: unknown[]) => void>;
    h2.removeAllListeners('stream');
    h2.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number, rawHeaders: unknown) => {
      const path = headers[':path'] ?? '';
      const method = opts.methods.get(path);
      if (method && headers['content-type']?.startsWith('application/grpc')) serveCall(stream, headers, path, method, opts, requestPools.get(path));
      else for (const handler of grpcHandlers) handler.call(h2, stream, headers, flags, rawHeaders);
    });
  }
}

/** One call: authorization, deadline, then unary or bidi handling; requests read into `pool`'s buffers when given. */
function serveCall(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, path: string, method: Http2Method, opts: Http2ServeOptions, pool?: AnswerPool): void {
  stream.on('error', () => undefined); // the client went away; nothing to clean up
  const socket = stream.session?.socket as TLSSocket | undefined;
  const refused = opts.authorize?.(path, typeof socket?.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined);
  if (refused) {
    endWithStatus(stream, toGrpcTrailers(refused));
    return;
  }
  const timeoutMs = parseGrpcTimeout(headers['grpc-timeout']);
  if (timeoutMs !== null) {
    // The caller's deadline: a call still open then (a request body never finished) is ended
    // DEADLINE_EXCEEDED, as grpc-js would, so a stalled client holds no stream past it.
    const timer = setTimeout(() => endWithStatus(stream, statusTrailers(grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded')), timeoutMs);
    timer.unref();
    stream.once('close', () => clearTimeout(timer));
  }
  const answers = new OrderedAnswers<Buffer>((frame) => writeAnswer(stream, method, frame));
  // A unary call answers its first message only; a held push answers it later, after 'end'.
  let received = false;
  const reader = new MessageReader(opts.receiveLimit, method.streaming
    ? (msg) => {
      if (stream.destroyed || stream.writableEnded) return;
      const answer = method.answer(msg);
      answers.add(answer);
      if (pool && !(answer instanceof Promise)) pool.give(msg);
    }
    : (msg) => {
      if (received) return;
      received = true;
      answerUnary(stream, method, msg, pool);
    }, pool && ((n) => pool.take(n)));
  stream.on('data', (chunk: Buffer) => {
    const refusal = reader.push(chunk);
    if (refusal) endWithStatus(stream, statusTrailers(refusal.code, refusal.details));
  });
  stream.on('end', () => {
    // Bad framing is bad input: a clear status, never INTERNAL (which says the PS failed).
    if (reader.midMessage) endWithStatus(stream, statusTrailers(grpc.status.INVALID_ARGUMENT, `${path}: the request stream ended inside a message (a length prefix past the body)`));
    else if (method.streaming) answers.afterAll(() => endWithStatus(stream, OK_TRAILERS));
    else if (!received) endWithStatus(stream, statusTrailers(grpc.status.UNIMPLEMENTED, `Received no request message for unary method ${path}`));
  });
}

/**
 * Answers the one message of a unary call and ends it; a thrown error is the call's status. A
 * request answered synchronously (or refused) goes back to `pool`.
 */
function answerUnary(stream: http2.ServerHttp2Stream, method: Http2Method, message: Buffer, pool?: AnswerPool): void {
  let frame: Buffer | Promise<Buffer>;
  try {
    frame = method.answer(message);
  } catch (err) {
    pool?.give(message);
    endWithStatus(stream, toGrpcTrailers(err));
    return;
  }
  const send = (f: Buffer): void => {
    if (stream.destroyed || stream.writableEnded) return;
    respond(stream);
    stream.write(f, (err) => { if (!err) method.sent?.(f); });
    stream.end();
  };
  if (frame instanceof Promise) frame.then(send, (err: unknown) => endWithStatus(stream, toGrpcTrailers(err)));
  else {
    pool?.give(message);
    send(frame);
  }
}

/**
 * Writes one answer of a bidi call. When the answer does not fit HTTP/2's buffers, stops
 * reading requests until they drain, so a client that sends without reading is slowed by flow
 * control instead of being answered into an ever-growing buffer.
 */
function writeAnswer(stream: http2.ServerHttp2Stream, method: Http2Method, frame: Buffer): void {
  if (stream.destroyed || stream.writableEnded) return;
  respond(stream);
  if (stream.write(frame, (err) => { if (!err) method.sent?.(frame); }) || stream.isPaused()) return;
  stream.pause();
  method.onPause?.();
  stream.once('drain', () => stream.resume());
}

/** Sends the response headers once; trailers follow when the stream is ended (`endWithStatus`). */
function respond(stream: http2.ServerHttp2Stream): void {
  if (stream.headersSent) return;
  stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
  stream.once('wantTrailers', () => stream.sendTrailers(pendingTrailers.get(stream) ?? OK_TRAILERS));
}

/** The trailers an ended stream sends when HTTP/2 asks for them ('wantTrailers'). */
const pendingTrailers = new WeakMap<http2.ServerHttp2Stream, Record<string, string>>();

/**
 * Ends the call with `status`: as a trailers-only response when nothing was sent yet, else as
 * the trailers after the answers already written. Only the first status of a call counts.
 */
function endWithStatus(stream: http2.ServerHttp2Stream, status: Record<string, string>): void {
  if (stream.destroyed || stream.writableEnded) return;
  if (!stream.headersSent) {
    stream.respond({ ...RESPONSE_HEADERS, ...status }, { endStream: true });
    return;
  }
  pendingTrailers.set(stream, status);
  stream.end();
}
