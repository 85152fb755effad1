/**
 * Sends one fuzz case to a PS and reports how it ended: the gRPC status (by name), each in-band
 * error of a stream's answers, or HANG when no status came within the hang limit (the call is
 * then cancelled). Unary, server-streaming and bidi cases go through a grpc-js client with
 * identity serializers, so the bytes sent are exactly the case's; raw HTTP/2 cases go through
 * node:http2, so the gRPC framing itself can be broken.
 */
import * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { decodePullResponse, decodePushResponse } from '../../src/wire/data-plane-codec';
import type { FuzzCase } from './fuzz-cases';

/** How one case ended. */
export interface Outcome {
  /** the call's status name (`OK`, `INVALID_ARGUMENT`, ...), `HANG`, or `HTTP <code>` for a non-gRPC answer */
  status: string;
  /** streams: the status name of each in-band error, in answer order */
  inBand: string[];
  /** streams: the request ids the PS answered without an error */
  accepted: number[];
  /** messages received */
  answers: number;
}

const NAMES = Object.fromEntries(Object.entries(grpc.status).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v, k])) as Record<number, string>;
const identity = (b: Buffer): Buffer => b;

/** A status code's name. */
export function statusName(code: number): string {
  return NAMES[code] ?? `CODE_${code}`;
}

/** Resolves with `work`'s outcome, or HANG (after calling `onHang`) if it takes longer than `limitMs`. */
function bounded(limitMs: number, onHang: () => void, work: Promise<Outcome>): Promise<Outcome> {
  let timer: NodeJS.Timeout;
  const hang = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => {
      onHang();
      resolve({ status: 'HANG', inBand: [], accepted: [], answers: 0 });
    }, limitMs);
  });
  return Promise.race([work, hang]).finally(() => clearTimeout(timer));
}

/** Tallies a data-plane answer: an in-band error by name, or an accepted request id. */
function tally(out: Outcome, method: string, b: Buffer): void {
  out.answers++;
  const m = method === 'PushStream' ? decodePushResponse(b) : decodePullResponse(b);
  if (m.error) out.inBand.push(statusName(m.error.code));
  else out.accepted.push(m.requestId);
}

/** The grpc-js side: one client, identity serializers. */
export class FuzzClient {
  private readonly client: grpc.Client;

  constructor(private readonly addr: string, private readonly hangMs: number) {
    this.client = new grpc.Client(addr, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': 256 << 20 });
  }

  /** Sends `c` and resolves with how it ended. */
  run(c: FuzzCase): Promise<Outcome> {
    if (c.shape === 'raw_h2') return this.raw(c);
    if (c.shape === 'unary') return this.unary(c);
    return c.shape === 'bidi' ? this.bidi(c) : this.serverStream(c);
  }

  close(): void {
    this.client.close();
  }

  private unary(c: FuzzCase): Promise<Outcome> {
    let call: grpc.ClientUnaryCall | undefined;
    return bounded(this.hangMs, () => call?.cancel(), new Promise((resolve) => {
      call = this.client.makeUnaryRequest(c.path, identity, identity, c.messages[0], (err) => {
        resolve({ status: statusName(err ? err.code : grpc.status.OK), inBand: [], accepted: [], answers: err ? 0 : 1 });
      });
    }));
  }

  private serverStream(c: FuzzCase): Promise<Outcome> {
    const call = this.client.makeServerStreamRequest(c.path, identity, identity, c.messages[0]);
    const out: Outcome = { status: '', inBand: [], accepted: [], answers: 0 };
    return bounded(this.hangMs, () => call.cancel(), new Promise((resolve) => {
      call.on('data', () => {
        if (++out.answers === 1 && c.cancel) call.cancel();
      });
      call.on('error', () => undefined);
      call.on('status', (s: grpc.StatusObject) => resolve({ ...out, status: statusName(s.code) }));
    }));
  }

  private bidi(c: FuzzCase): Promise<Outcome> {
    const call = this.client.makeBidiStreamRequest(c.path, identity, identity);
    const out: Outcome = { status: '', inBand: [], accepted: [], answers: 0 };
    return bounded(this.hangMs, () => call.cancel(), new Promise((resolve) => {
      call.on('data', (b: Buffer) => {
        tally(out, c.method, b);
        if (out.answers === 1 && c.cancel) call.cancel();
      });
      call.on('error', () => undefined);
      call.on('status', (s: grpc.StatusObject) => resolve({ ...out, status: statusName(s.code) }));
      for (const m of c.messages) call.write(m);
      call.end();
    }));
  }

  /** A request over its own HTTP/2 connection, body as given; the status from headers or trailers. */
  private raw(c: FuzzCase): Promise<Outcome> {
    const session = http2.connect(`http://${this.addr}`);
    session.on('error', () => undefined);
    const out: Outcome = { status: '', inBand: [], accepted: [], answers: 0 };
    return bounded(this.hangMs, () => undefined, new Promise<Outcome>((resolve) => {
      const req = session.request({ ':method': 'POST', ':path': c.path, 'content-type': 'application/grpc', te: 'trailers' });
      const finish = (h: http2.IncomingHttpHeaders) => {
        const s = h['grpc-status'];
        if (s !== undefined) resolve({ ...out, status: statusName(Number(s)) });
      };
      req.on('response', (h) => {
        if (h[':status'] !== 200) resolve({ ...out, status: `HTTP ${h[':status']}` });
        finish(h);
      });
      req.on('trailers', finish);
      req.on('data', () => { out.answers++; });
      req.on('error', () => resolve({ ...out, status: out.status || 'RESET' }));
      req.on('close', () => resolve({ ...out, status: out.status || 'RESET' }));
      req.end(c.messages[0]);
    })).finally(() => session.destroy());
  }
}
