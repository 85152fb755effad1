/**
 * The client side of the node:http2 data plane (ADR 0038): gRPC calls (bidi streams for the
 * StreamMux, and unary calls) written directly on one `node:http2` session per PS, with gRPC
 * framing (grpc-frames.ts). It talks to any gRPC server of the same protocol: a PS on either
 * data plane, or a Python grpcio server (test/multiprocess/python-h2-data-plane.test.ts).
 *
 * The session is opened lazily and again after it is lost; a keepalive ping detects a dead peer
 * the way the grpc-js channel's keepalive does, so requests fail over instead of timing out one
 * by one on a half-open connection.
 */
import { EventEmitter } from 'node:events';
import * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import type { AnswerPool } from './answer-pool';
import type { MessageAlloc } from './data-plane-codec';
import { MessageReader, grpcTimeout, writeFrameHeader } from './grpc-frames';
import { GRPC_FRAME_HEADER } from './proto-bytes';
import { serviceErrorOfTrailers, statusTrailers } from './status-map';
import type { HttpsClientOptions } from './tls';

/** HTTP/2 receive window (stream and connection): a 512 KiB pull answer arrives without WINDOW_UPDATE stalls. */
const WINDOW_BYTES = 16 * 1024 * 1024;

/** Keepalive: a ping every KEEPALIVE_MS; no answer within it closes the session (as the grpc-js channel's 10 s / 10 s). */
const KEEPALIVE_MS = 10_000;

/** The server name a TLS client sends: servers are checked by their SPIFFE identity, not by address (as tls.ts's channels). */
const TLS_SERVER_NAME = 'tessera';

/** A bidi call as StreamMux drives it: 'data' per answer, 'error' (a ServiceError's fields) or 'end'. */
export interface MuxStream<Req> extends EventEmitter {
  write(req: Req): unknown;
  end(): void;
}

/** Where a channel connects and what it accepts. */
export interface Http2DataChannelOptions {
  /** "host:port" */
  addr: string;
  /** Largest answer message accepted (bytes). */
  maxMessageBytes: number;
  /**
   * Mutual TLS material and the server check, asked for at each (re)connect so that a rotation
   * of the files reaches the next session (TlsContext.httpsClient); absent: plaintext.
   */
  tls?: () => HttpsClientOptions;
}

/** A message encoder; with `alloc`, it writes into the buffer `alloc` returns (data-plane-codec.ts). */
export type Encoder<Req> = (m: Req, alloc?: MessageAlloc) => Buffer;

/** Reused buffers of a call: answers are read into `answers`, requests encoded into `requests`. */
export interface CallPools {
  answers?: AnswerPool;
  requests?: AnswerPool;
}

/** One gRPC call on an HTTP/2 stream: messages out, decoded answers and the final status in. */
class Http2Call<Req, Res> extends EventEmitter implements MuxStream<Req> {
  private finished = false;
  private readonly requests: AnswerPool | undefined;

  constructor(private readonly stream: http2.ClientHttp2Stream, private readonly encode: Encoder<Req>, decode: (b: Buffer) => Res, limit: number, pools: CallPools = {}) {
    super();
    const answers = pools.answers;
    this.requests = pools.requests;
    const reader = new MessageReader(limit, (msg) => this.emit('data', decode(msg)), answers && ((n) => answers.take(n)));
    stream.on('response', (headers) => {
      if (headers['grpc-status'] !== undefined) this.finish(headers); // trailers-only answer
      else if (headers[':status'] !== 200) this.finish(statusTrailers(grpc.status.UNAVAILABLE, `HTTP status ${headers[':status']}`));
    });
    stream.on('data', (chunk: Buffer) => {
      const refusal = reader.push(chunk);
      if (refusal) {
        this.finish(statusTrailers(refusal.code, refusal.details));
        stream.close(http2.constants.NGHTTP2_CANCEL);
      }
    });
    stream.on('trailers', (headers) => this.finish(headers));
    stream.on('error', (err: Error) => this.finish(statusTrailers(grpc.status.UNAVAILABLE, err.message)));
    stream.on('close', () => this.finish(statusTrailers(grpc.status.UNAVAILABLE, 'the stream closed without a status')));
  }

  /**
   * Sends one message. With a request pool it is encoded into a pooled buffer that has room for
   * the frame header before it, goes out as one write, and the buffer is given back once HTTP/2
   * has written it (the write's callback; on a failed write it is left to the GC). Without one,
   * the header and the message go out in one corked write, the message uncopied.
   */
  write(req: Req): boolean {
    const pool = this.requests;
    let taken: Buffer | undefined;
    const msg = pool ? this.encode(req, (n) => (taken = pool.take(n))) : this.encode(req);
    if (pool && taken && msg.buffer === taken.buffer && msg.byteOffset === GRPC_FRAME_HEADER) {
      const frame = Buffer.from(msg.buffer, 0, GRPC_FRAME_HEADER + msg.length);
      writeFrameHeader(frame, msg.length);
      return this.stream.write(frame, (err) => { if (!err) pool.give(msg); });
    }
    // An encoder that outgrew its buffer (or took none) wrote elsewhere: header and message apart.
    const header = Buffer.allocUnsafe(GRPC_FRAME_HEADER);
    writeFrameHeader(header, msg.length);
    this.stream.cork();
    this.stream.write(header);
    const ok = this.stream.write(msg);
    this.stream.uncork();
    return ok;
  }

  end(): void {
    if (!this.stream.destroyed) this.stream.end();
  }

  /** Cancels the call (a deadline passed on this side). */
  cancel(): void {
    this.finished = true;
    if (!this.stream.destroyed) this.stream.close(http2.constants.NGHTTP2_CANCEL);
  }

  private finish(headers: http2.IncomingHttpHeaders | Record<string, string>): void {
    if (this.finished) return;
    this.finished = true;
    if (headers['grpc-status'] === '0') this.emit('end');
    else this.emit('error', serviceErrorOfTrailers(headers));
  }
}

/** gRPC calls to one server over one node:http2 session. */
export class Http2DataChannel {
  private session: http2.ClientHttp2Session | null = null;
  private keepalive: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly opts: Http2DataChannelOptions) {}

  /**
   * Opens a bidi call to `path` (a StreamMux's `open`); with `pools.answers`, answers are read
   * into its buffers, and `decode` must let the caller give each back (PullResponseMsg.release);
   * with `pools.requests`, requests are encoded into its buffers.
   */
  openStream<Req, Res>(path: string, encode: Encoder<Req>, decode: (b: Buffer) => Res, pools?: CallPools): MuxStream<Req> {
    return this.call(path, encode, decode, {}, pools);
  }

  /** One unary call to `path` with a deadline; rejects with the status's ServiceError fields. */
  unary<Req, Res>(path: string, req: Req, encode: (m: Req) => Buffer, decode: (b: Buffer) => Res, timeoutMs: number): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      const c = this.call(path, encode, decode, { 'grpc-timeout': grpcTimeout(timeoutMs) });
      let answer: Res | undefined;
      // This side's deadline too: a server that never answers must not hang the caller.
      const timer = setTimeout(() => {
        c.cancel();
        reject(serviceErrorOfTrailers(statusTrailers(grpc.status.DEADLINE_EXCEEDED, `no answer within ${timeoutMs} ms`)));
      }, timeoutMs);
      c.on('data', (res: Res) => { answer ??= res; });
      c.on('error', (err) => { clearTimeout(timer); reject(err); });
      c.on('end', () => {
        clearTimeout(timer);
        if (answer === undefined) reject(serviceErrorOfTrailers(statusTrailers(grpc.status.INTERNAL, 'the server answered OK with no message')));
        else resolve(answer);
      });
      c.write(req);
      c.end();
    });
  }

  /** Closes the session; calls on it fail UNAVAILABLE, later calls are refused. */
  close(): void {
    this.closed = true;
    this.dropSession();
  }

  private call<Req, Res>(path: string, encode: Encoder<Req>, decode: (b: Buffer) => Res, extra: http2.OutgoingHttpHeaders, pools?: CallPools): Http2Call<Req, Res> {
    const stream = this.sessionNow().request({
      ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...extra,
    });
    return new Http2Call(stream, encode, decode, this.opts.maxMessageBytes, pools);
  }

  private sessionNow(): http2.ClientHttp2Session {
    if (this.closed) throw new Error(`${this.opts.addr}: the data channel is closed`);
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const tls = this.opts.tls?.();
    const s = http2.connect(`${tls ? 'https' : 'http'}://${this.opts.addr}`, {
      settings: { initialWindowSize: WINDOW_BYTES, enablePush: false },
      // Answers read off the socket are held here until the caller takes them; HTTP/2 flow
      // control bounds them (16 MiB a stream), so Node's 10 MiB default would only cut a busy session.
      maxSessionMemory: 1024,
      ...(tls ? { ca: tls.ca, cert: tls.cert, key: tls.key, servername: TLS_SERVER_NAME, checkServerIdentity: tls.checkServerIdentity } : {}),
    });
    s.on('connect', () => s.setLocalWindowSize(WINDOW_BYTES));
    s.on('error', () => undefined); // each stream on it reports its own failure
    s.on('close', () => { if (this.session === s) this.dropSession(); });
    this.session = s;
    this.startKeepalive(s);
    return s;
  }

  private startKeepalive(s: http2.ClientHttp2Session): void {
    if (this.keepalive) clearInterval(this.keepalive);
    this.keepalive = setInterval(() => {
      if (!s.socket || s.destroyed) return;
      const deadline = setTimeout(() => s.destroy(), KEEPALIVE_MS).unref();
      try {
        s.ping(() => clearTimeout(deadline));
      } catch {
        clearTimeout(deadline); // not connected yet, or a ping already outstanding: try next time
      }
    }, KEEPALIVE_MS).unref();
  }

  private dropSession(): void {
    if (this.keepalive) clearInterval(this.keepalive);
    this.keepalive = null;
    const s = this.session;
    this.session = null;
    if (s && !s.destroyed) s.destroy();
  }
}
