/**
 * The connections to every PS of one shard map, and what the data, admin and checkpoint clients
 * share over them: one PsConnection (one HTTP/2 channel) per PS, the deadline of one attempt,
 * retries with backoff on UNAVAILABLE and deadline errors up to an overall retry deadline,
 * which PS holds each dense table, and the identity that makes pushes idempotent: a random
 * 64-bit client id and, per PS, a push sequence number that every retry of a push repeats
 * (the PS acknowledges a repeated pair without applying it again; ADR 0027).
 */
import { randomBytes } from 'node:crypto';
import type { ChannelCredentials } from '@grpc/grpc-js';
import { DEFAULT_BACKOFF, BackoffOptions } from '../common/backoff';
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { Logger } from '../common/logger';
import { denseBucket } from '../sharding/dense-bucket';
import type { ShardMap } from '../sharding/shard-map';
import { DEFAULT_MAX_REQUEST_BYTES } from '../wire/grpc-options';
import { PsConnection } from '../wire/ps-connection';
import { RetryOptions, withRetry } from './retry';

/** How a fleet connects and retries. */
export interface PsFleetOptions {
  shardMap: ShardMap;
  logger: Logger;
  /** Deadline of one RPC attempt, ms. Default 10 s. */
  callTimeoutMs?: number;
  /** Keep retrying UNAVAILABLE for this long, ms. Default 60 s. */
  retryDeadlineMs?: number;
  backoff?: BackoffOptions;
  /** Credentials of every connection (mutual TLS); default plaintext. */
  credentials?: ChannelCredentials;
  /** Opens a connection to a PS (injected in tests). */
  connect?: (addr: string) => PsConnection;
}

/** Connections to the PS of one shard map, in shard-map order. */
export class PsFleet {
  readonly map: ShardMap;
  readonly conns: readonly PsConnection[];
  /** Deadline of one attempt of an ordinary call, ms. */
  readonly callTimeoutMs: number;
  readonly log: Logger;
  /** Random, nonzero: names this client's pushes to every PS (a new fleet is a new client). */
  readonly clientId: bigint = newClientId();
  private readonly pushSeqs: number[];
  private readonly retry: RetryOptions;
  private readonly denseOwner = new Map<string, number>();
  private closed = false;

  constructor(opts: PsFleetOptions) {
    this.map = opts.shardMap;
    this.log = opts.logger.child({ component: 'ps-client' });
    const connect = opts.connect ?? ((addr: string) => new PsConnection({ addr, maxMessageBytes: DEFAULT_MAX_REQUEST_BYTES * 2, credentials: opts.credentials }));
    this.conns = opts.shardMap.ps.map((p) => connect(p.addr));
    this.pushSeqs = this.conns.map(() => 0);
    this.callTimeoutMs = opts.callTimeoutMs ?? 10_000;
    this.retry = { backoff: opts.backoff ?? DEFAULT_BACKOFF, retryDeadlineMs: opts.retryDeadlineMs ?? 60_000, logger: this.log };
  }

  /** Runs `fn` with retries on retryable errors; `what` names the call in logs and errors. */
  call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return withRetry(what, this.retry, () => {
      // A closed client stops retrying at once, so shutdown after an error is prompt.
      if (this.closed) throw new TesseraError(ERROR_CODES.UNAVAILABLE, `${what}: client closed`, { retryable: false });
      return fn();
    });
  }

  /**
   * The identity of a new push to the PS at `psIndex` (shard-map order): this client's id and
   * the next sequence number, from 1. Take it once per push request, outside its retry loop.
   */
  pushIdentity(psIndex: number): { clientId: bigint; pushSeq: number } {
    return { clientId: this.clientId, pushSeq: ++this.pushSeqs[psIndex] };
  }

  /** Index (in shard-map order) of the PS holding dense table `table`. */
  ownerOfDense(table: string): number {
    let owner = this.denseOwner.get(table);
    if (owner === undefined) {
      owner = this.map.owner[denseBucket(table, this.map.numBuckets)];
      this.denseOwner.set(table, owner);
    }
    return owner;
  }

  /** The connection to the PS holding dense table `table`. */
  denseConnection(table: string): PsConnection {
    return this.conns[this.ownerOfDense(table)];
  }

  /** Waits until every PS accepts connections. */
  async waitReady(timeoutMs = 10_000): Promise<void> {
    await Promise.all(this.conns.map((c) => c.waitReady(timeoutMs)));
  }

  /** Closes every connection; calls in their retry loop fail at once. */
  close(): void {
    this.closed = true;
    for (const c of this.conns) c.close();
  }
}

function newClientId(): bigint {
  for (;;) {
    const id = randomBytes(8).readBigUInt64LE(0);
    if (id !== 0n) return id; // 0 means "no dedup" on the wire
  }
}
