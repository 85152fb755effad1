/**
 * Multiplexes many request/response pairs over one gRPC bidi stream (grpc-js's, or the node:http2
 * data plane's), matched by request_id.
 * A lost stream fails every pending request with UNAVAILABLE (retryable) and is reopened
 * lazily by the next request.
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { RpcErrorMsg } from './data-plane-codec';
import type { MuxStream } from './h2-data-channel';
import { fromRpcError, fromServiceError } from './status-map';

interface Pending<Res> {
  resolve: (res: Res) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export interface MuxMessage {
  requestId: number;
}

export class StreamMux<Req extends MuxMessage, Res extends MuxMessage & { error?: RpcErrorMsg }> {
  private stream: MuxStream<Req> | null = null;
  private readonly pending = new Map<number, Pending<Res>>();
  private nextId = 1;

  /**
   * @param open opens a new bidi stream
   * @param peer name used in error messages (the PS address)
   */
  constructor(private readonly open: () => MuxStream<Req>, private readonly peer: string) {}

  get inflight(): number {
    return this.pending.size;
  }

  /** Sends `req` (its requestId is assigned here) and resolves with the matching response. */
  call(req: Req, timeoutMs: number): Promise<Res> {
    const id = this.nextId++;
    req.requestId = id;
    return new Promise<Res>((resolve, reject) => {
      // Deadline per request: a PS that stops answering must not hang the worker.
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TesseraError(ERROR_CODES.DEADLINE, `${this.peer}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.ensureStream().write(req);
    });
  }

  /** Ends the stream; pending requests fail with UNAVAILABLE. */
  close(): void {
    const s = this.stream;
    this.stream = null;
    s?.end();
    this.failAll(new TesseraError(ERROR_CODES.UNAVAILABLE, `${this.peer}: connection closed`));
  }

  private ensureStream(): MuxStream<Req> {
    if (this.stream) return this.stream;
    const s = this.open();
    this.stream = s;
    s.on('data', (res: Res) => this.onData(res));
    const lost = (err?: unknown) => {
      if (this.stream === s) this.stream = null;
      const e = err === undefined
        ? new TesseraError(ERROR_CODES.UNAVAILABLE, `${this.peer}: stream ended by the server`)
        : fromServiceError(err, this.peer);
      const retryable = new TesseraError(e.code === ERROR_CODES.INTERNAL ? ERROR_CODES.UNAVAILABLE : e.code, e.message,
        { retryable: true, cause: err });
      this.failAll(retryable);
    };
    s.on('error', lost);
    s.on('end', () => lost());
    return s;
  }

  private onData(res: Res): void {
    const p = this.pending.get(res.requestId);
    if (!p) return; // answer to a request that already timed out
    this.pending.delete(res.requestId);
    clearTimeout(p.timer);
    if (res.error) p.reject(fromRpcError(res.error, this.peer));
    else p.resolve(res);
  }

  private failAll(err: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) {
      clearTimeout(p.timer);
      p.reject(err);
    }
  }
}
