/**
 * The client side of one PS: streamed pulls and pushes plus unary admin calls, on one channel
 * (with `dataPlane: 'http2'`, pulls and pushes go over a node:http2 session of their own to the
 * same port, h2-data-channel.ts).
 * Retries live one level up, in src/client/; this class only turns failures into TesseraErrors.
 * Request and response shapes of the admin RPCs: src/client/admin-messages.ts.
 */
import * as grpc from '@grpc/grpc-js';
import { ERROR_CODES, TesseraError } from '../common/errors';
import {
  decodePullResponse, decodePushResponse, encodePullRequest, encodePushRequest, PullRequestMsg, PullResponseMsg, PushRequestMsg, PushResponseMsg,
} from './data-plane-codec';
import { clientChannelOptions, DataPlane } from './grpc-options';
import { AnswerPool } from './answer-pool';
import { Http2DataChannel } from './h2-data-channel';
import { PARAMETER_SERVER_SERVICE as PS, ParameterServerClient, psAdminService } from './services';
import type { HttpsClientOptions } from './tls';
import { fromServiceError } from './status-map';
import { StreamMux } from './stream-mux';

export interface PsConnectionOptions {
  /** "host:port" */
  addr: string;
  /** Largest message either way, bytes. */
  maxMessageBytes: number;
  /** Channel credentials (mutual TLS: TlsContext.channelCredentials()); default plaintext. */
  credentials?: grpc.ChannelCredentials;
  /** What carries pulls and pushes (default 'grpc-js'); admin calls are always grpc-js. */
  dataPlane?: DataPlane;
  /** With `dataPlane: 'http2'` and mutual TLS: the same identity as `credentials`, as files' contents. */
  http2Tls?: () => HttpsClientOptions;
}

type AnyClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

export class PsConnection {
  readonly addr: string;
  private readonly data: AnyClient;
  private readonly admin: AnyClient;
  private readonly pulls: StreamMux<PullRequestMsg, PullResponseMsg>;
  private readonly pushes: StreamMux<PushRequestMsg, PushResponseMsg>;
  private readonly h2: Http2DataChannel | null = null;

  constructor(opts: PsConnectionOptions) {
    this.addr = opts.addr;
    const creds = opts.credentials ?? grpc.credentials.createInsecure();
    const options = clientChannelOptions(opts.maxMessageBytes);
    this.data = new ParameterServerClient(opts.addr, creds, options) as unknown as AnyClient;
    const Admin = psAdminService();
    // The admin client shares the data client's channel: one connection per PS.
    this.admin = new Admin(opts.addr, creds, { channelOverride: this.data.getChannel() }) as unknown as AnyClient;
    if (opts.dataPlane === 'http2') {
      if (opts.credentials && !opts.http2Tls) throw new TesseraError(ERROR_CODES.CONFIG, `${opts.addr}: the http2 data plane over TLS needs http2Tls (TlsContext.httpsClient of the same identity)`);
      const h2 = new Http2DataChannel({ addr: opts.addr, maxMessageBytes: opts.maxMessageBytes, tls: opts.http2Tls });
      this.h2 = h2;
      // Separate pools: a pull's answer, its request and a push's request differ in size.
      const answers = new AnswerPool();
      const pullPools = { answers, requests: new AnswerPool() };
      const pushPools = { requests: new AnswerPool() };
      const decodePooled = (b: Buffer): PullResponseMsg => ({ ...decodePullResponse(b), release: () => answers.give(b) });
      this.pulls = new StreamMux(() => h2.openStream(PS.PullStream.path, encodePullRequest, decodePooled, pullPools), opts.addr);
      this.pushes = new StreamMux(() => h2.openStream(PS.PushStream.path, encodePushRequest, decodePushResponse, pushPools), opts.addr);
    } else {
      this.pulls = new StreamMux(() => this.data.PullStream() as grpc.ClientDuplexStream<PullRequestMsg, PullResponseMsg>, opts.addr);
      this.pushes = new StreamMux(() => this.data.PushStream() as grpc.ClientDuplexStream<PushRequestMsg, PushResponseMsg>, opts.addr);
    }
  }

  /** Pulls over the shared stream. `requestId` is assigned by the mux. */
  pull(req: PullRequestMsg, timeoutMs: number): Promise<PullResponseMsg> {
    return this.pulls.call(req, timeoutMs);
  }

  push(req: PushRequestMsg, timeoutMs: number): Promise<PushResponseMsg> {
    return this.pushes.call(req, timeoutMs);
  }

  /** Unary Pull (not on the hot path; used by tools and tests of the unary RPC). */
  pullUnary(req: PullRequestMsg, timeoutMs: number): Promise<PullResponseMsg> {
    if (this.h2) return this.h2Unary(PS.Pull.path, req, encodePullRequest, decodePullResponse, timeoutMs);
    return this.unary<PullResponseMsg>(this.data, 'Pull', req, timeoutMs);
  }

  pushUnary(req: PushRequestMsg, timeoutMs: number): Promise<PushResponseMsg> {
    if (this.h2) return this.h2Unary(PS.Push.path, req, encodePushRequest, decodePushResponse, timeoutMs);
    return this.unary<PushResponseMsg>(this.data, 'Push', req, timeoutMs);
  }

  /** Calls a PsAdmin method by name with a deadline. */
  adminCall<Res>(method: 'CreateTable' | 'DropTable' | 'SetShardMap' | 'Stats' | 'AssignDense' | 'Snapshot' | 'SnapshotStatus' | 'Restore' | 'PrepareCut' | 'CutAt' | 'ReleaseCut', req: object, timeoutMs: number): Promise<Res> {
    return this.unary<Res>(this.admin, method, req, timeoutMs);
  }

  /** Streams a table's rows from this PS (PsAdmin.ExportTable). */
  async *exportTable(table: string, timeoutMs: number): AsyncGenerator<{ ids: Uint8Array; values: Uint8Array; dim: number }> {
    const call = this.admin.ExportTable({ table, chunkRows: 0 }, { deadline: Date.now() + timeoutMs }) as grpc.ClientReadableStream<{ ids: Buffer; values: Buffer; dim: number }>;
    try {
      for await (const chunk of call) yield chunk;
    } catch (err) {
      throw fromServiceError(err, this.addr);
    }
  }

  /** Waits until the channel is connected, or rejects with UNAVAILABLE at the deadline. */
  waitReady(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.data.waitForReady(Date.now() + timeoutMs, (err) => (err
        ? reject(new TesseraError(ERROR_CODES.UNAVAILABLE, `${this.addr}: not reachable within ${timeoutMs} ms`, { cause: err }))
        : resolve()));
    });
  }

  close(): void {
    this.pulls.close();
    this.pushes.close();
    this.h2?.close();
    this.data.close();
  }

  private async h2Unary<Req, Res>(path: string, req: Req, encode: (m: Req) => Buffer, decode: (b: Buffer) => Res, timeoutMs: number): Promise<Res> {
    try {
      return await this.h2!.unary(path, req, encode, decode, timeoutMs);
    } catch (err) {
      throw fromServiceError(err, this.addr);
    }
  }

  private unary<Res>(client: AnyClient, method: string, req: object, timeoutMs: number): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      client[method](req, { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, res: Res) => {
        if (err) reject(fromServiceError(err, this.addr));
        else resolve(res);
      });
    });
  }
}
