/**
 * The PS-to-PS side of a migration (issue 17): the source streams chunks to the target's
 * `PsMigration.ReceiveBuckets`, with backpressure, and the chief's calls to a source. Every
 * PsMigration client is built by `migrationClient`, the one place a channel to a peer PS is made
 * (so transport security is added there once).
 */
import * as grpc from '@grpc/grpc-js';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { clientChannelOptions, DEFAULT_MAX_REQUEST_BYTES } from './grpc-options';
import { psAdminService, psMigrationService } from './services';
import { fromServiceError } from './status-map';

type AnyClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

/** How a PsMigration channel is made. */
export interface MigrationChannelOptions {
  /** The caller's mutual TLS credentials (a PS's own, or the chief's); absent: plaintext. */
  credentials?: grpc.ChannelCredentials;
  maxMessageBytes?: number;
}

/** A PsMigration client on its own channel to `addr` ("host:port"); close it when done. */
export function migrationClient(addr: string, opts: MigrationChannelOptions = {}): AnyClient {
  const Ctor = psMigrationService();
  return new Ctor(addr, opts.credentials ?? grpc.credentials.createInsecure(), clientChannelOptions(opts.maxMessageBytes ?? DEFAULT_MAX_REQUEST_BYTES)) as unknown as AnyClient;
}

/** Default deadline of one unary PsMigration call; a round that copies many rows needs `timeoutMs`. */
const MIGRATION_CALL_TIMEOUT_MS = 30_000;

/** Calls unary `method` of `client`; rejects with the TesseraError naming `addr`. */
function unary<Res>(client: AnyClient, addr: string, method: string, req: object, timeoutMs: number): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    client[method](req, { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, res: Res) => (err ? reject(fromServiceError(err, addr)) : resolve(res)));
  });
}

/**
 * Calls unary PsMigration `method` on the PS at `addr` (with `opts.credentials`: mutual TLS) on a
 * channel of its own; rejects with the TesseraError naming `addr`.
 */
export async function migrationCall<Res = Record<string, number>>(
  addr: string, method: 'BeginMigration' | 'SendTail' | 'EndMigration', req: object, opts: MigrationChannelOptions & { timeoutMs?: number } = {},
): Promise<Res> {
  const c = migrationClient(addr, opts);
  try {
    return await unary<Res>(c, addr, method, req, opts.timeoutMs ?? MIGRATION_CALL_TIMEOUT_MS);
  } finally {
    c.close();
  }
}

/**
 * One connection from the chief to a PS for the whole of a migration: PsMigration calls and
 * SetShardMap on the same channel. A fenced round and the new map's install are on the fence's
 * critical path; a call on a kept connection skips the TCP and HTTP/2 set-up a fresh channel
 * pays (on a loaded machine, several turns of both event loops).
 */
export class MigrationLink {
  private readonly migration: AnyClient;
  private readonly admin: AnyClient;

  constructor(readonly addr: string, opts: MigrationChannelOptions = {}) {
    this.migration = migrationClient(addr, opts);
    const Admin = psAdminService();
    this.admin = new Admin(addr, opts.credentials ?? grpc.credentials.createInsecure(), { channelOverride: this.migration.getChannel() }) as unknown as AnyClient;
  }

  /** Unary PsMigration `method`; rejects with the TesseraError naming the PS. */
  call<Res = Record<string, number>>(method: 'BeginMigration' | 'SendTail' | 'EndMigration', req: object, timeoutMs = MIGRATION_CALL_TIMEOUT_MS): Promise<Res> {
    return unary<Res>(this.migration, this.addr, method, req, timeoutMs);
  }

  /** PsAdmin.SetShardMap (the request as PsAdminClient builds it: shardMapRequest). */
  setShardMap(req: object, timeoutMs = MIGRATION_CALL_TIMEOUT_MS): Promise<unknown> {
    return unary(this.admin, this.addr, 'SetShardMap', req, timeoutMs);
  }

  /** Closes the connection (both clients share it). */
  close(): void {
    this.migration.close();
  }
}

/** What the target acknowledged for a stream of chunks. */
export interface ReceivedTotals {
  rows: number;
  tombstones: number;
  chunks: number;
  /** Dedup identities the target inherited. */
  applied: number;
}

/** Resolves when `call` takes writes again, or rejects if it fails first. */
function drained<T>(call: grpc.ClientWritableStream<T>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (err?: unknown) => {
      call.off('drain', done);
      call.off('error', done);
      if (err) reject(err); else resolve();
    };
    call.once('drain', done);
    call.once('error', done);
  });
}

/** The messages of one round: a message per chunk, then per piece of identities; `buckets` with the first. */
function* roundMessages(id: string, buckets: Buffer, chunks: Iterable<Buffer>, applied?: () => Iterable<Buffer>): Generator<ChunkMessage> {
  const none = Buffer.alloc(0);
  let first = true;
  const msg = (chunk: Buffer, ids: Buffer): ChunkMessage => {
    const m = { migrationId: id, chunk, buckets: first ? buckets : none, applied: ids };
    first = false;
    return m;
  };
  for (const chunk of chunks) yield msg(chunk, none);
  for (const piece of applied?.() ?? []) yield msg(none, piece);
  if (first) yield msg(none, none); // nothing to send: the buckets still go, so the target stages them
}

/** One message of a ReceiveBuckets stream (tessera.v1.MigrationChunk). */
export interface ChunkMessage {
  migrationId: string;
  chunk: Buffer;
  buckets: Buffer;
  applied: Buffer;
}

/**
 * Streams `chunks` of migration `id` to the target at `addr`, the staged `buckets` (packed
 * uint32) with the first message, then, with `opts.applied`, the pieces it yields (dedup
 * identities, asked for once every chunk is read) one message each, and resolves with the
 * target's totals once it has applied them all, presenting `opts.credentials` (the sending PS's
 * identity). `opts.client`: a `migrationClient` to `addr` kept for every round of a migration
 * (the caller closes it), so a round pays no connection set-up; absent, one is made and closed.
 * Errors come back as TesseraErrors naming `addr`; the whole round may be sent again (the target
 * overwrites).
 */
export async function sendChunks(
  addr: string, id: string, buckets: Buffer, chunks: Iterable<Buffer>,
  opts: { timeoutMs: number; credentials?: grpc.ChannelCredentials; client?: grpc.Client; applied?: () => Iterable<Buffer> },
): Promise<ReceivedTotals> {
  const { timeoutMs } = opts;
  const client = (opts.client ?? migrationClient(addr, { credentials: opts.credentials })) as AnyClient;
  try {
    let settle!: (v: ReceivedTotals) => void;
    let fail!: (e: unknown) => void;
    const answer = new Promise<ReceivedTotals>((resolve, reject) => { settle = resolve; fail = reject; });
    const call = client.ReceiveBuckets({ deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, res: ReceivedTotals) => {
      if (err) fail(fromServiceError(err, addr)); else settle(res);
    }) as grpc.ClientWritableStream<ChunkMessage>;
    call.on('error', () => { /* reported through the callback */ });
    const failed = answer.then(() => false, () => true);
    for (const msg of roundMessages(id, buckets, chunks, opts.applied)) {
      if (!call.write(msg)) await Promise.race([drained(call).catch(() => undefined), failed]);
      if (call.destroyed) break;
    }
    call.end();
    return await answer;
  } catch (err) {
    throw err instanceof TesseraError ? err : new TesseraError(ERROR_CODES.UNAVAILABLE, `${addr}: migration stream failed: ${String(err)}`, { cause: err });
  } finally {
    if (!opts.client) client.close();
  }
}
