/**
 * The connections to every PS of one shard map, and what the data, admin and checkpoint clients
 * share over them: one PsConnection (one HTTP/2 channel) per PS, the deadline of one attempt,
 * retries with backoff on UNAVAILABLE and deadline errors up to an overall retry deadline,
 * which PS holds each dense table, and the identity that makes pushes idempotent: a random
 * 64-bit client id and, per PS, a push sequence number that every retry of a push repeats
 * (the PS acknowledges a repeated pair without applying it again; ADR 0027).
 *
 * The map moves: when a PS refuses a request as routed with an old shard map, `callRouted`
 * reads the newest published map (`latestMap`), switches the fleet to it (connecting to PS it
 * had not met, keeping the others' connections) and hands the caller the new route, so that
 * only the refused request is sliced again and re-sent (docs/control-plane.md, "Live
 * resharding"). A refused request changed nothing on its PS, so re-sending its rows, each slice
 * with a fresh sequence number, applies them exactly once. A PS that stopped answering and that
 * a newer map no longer lists was failed over to its buddy, and may have applied the request
 * before it died: a push is then re-sent under the identity the promoted buddy inherited
 * (`failedOverIdentity`), so that it is applied at most once there too.
 */
import type { ChannelCredentials } from '@grpc/grpc-js';
import { DEFAULT_BACKOFF, BackoffOptions } from '../common/backoff';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { randomNonzeroId } from '../common/random-id';
import type { Logger } from '../common/logger';
import { inheritedClientId } from '../ps/replication/applied-pushes';
import { denseBucket } from '../sharding/dense-bucket';
import type { ShardMap } from '../sharding/shard-map';
import { isStaleMap, Route } from './route';
import { DEFAULT_MAX_REQUEST_BYTES } from '../wire/grpc-options';
import { PsConnection } from '../wire/ps-connection';
import type { DataPlane } from '../wire/grpc-options';
import type { HttpsClientOptions } from '../wire/tls';
import { RetryOptions, withRetry } from './retry';

/** What names a push to a PS: the PS acknowledges a repeated pair without applying it again. */
export interface PushIdentity {
  clientId: bigint;
  pushSeq: number;
}

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
  /** What carries pulls and pushes (default 'grpc-js'; ADR 0038). */
  dataPlane?: DataPlane;
  /** With `dataPlane: 'http2'` and mutual TLS: the identity of `credentials` for node:http2, read at each connect (TlsContext.httpsClient). */
  http2Tls?: () => HttpsClientOptions;
  /** Opens a connection to a PS (injected in tests). */
  connect?: (addr: string) => PsConnection;
  /**
   * The newest published shard map (the worker reads it from etcd), asked when a PS refuses a
   * request as routed with an old map. Absent: such a refusal is the caller's error.
   */
  latestMap?: () => Promise<ShardMap | undefined>;
}

/** Connections to the PS of one shard map, in shard-map order. */
export class PsFleet {
  /** Deadline of one attempt of an ordinary call, ms. */
  readonly callTimeoutMs: number;
  readonly log: Logger;
  /** Random, nonzero: names this client's pushes to every PS (a new fleet is a new client). */
  readonly clientId: bigint = randomNonzeroId();
  /** Push sequence numbers by PS id (ids are stable across maps, indexes are not). */
  private readonly pushSeqs = new Map<number, number>();
  private readonly retry: RetryOptions;
  private readonly connect: (addr: string) => PsConnection;
  /** Every connection opened, by address: a PS that stays in a new map keeps its channel. */
  private readonly byAddr = new Map<string, PsConnection>();
  private readonly latestMap: (() => Promise<ShardMap | undefined>) | undefined;
  private current: Route;
  private reading: Promise<ShardMap | undefined> | null = null;
  private denseOwner = new Map<string, number>();
  private closed = false;
  private acked = 0;
  /** Push request attempts sent and not answered yet (countedPush). */
  private unanswered = 0;
  private reroutes = 0;

  constructor(opts: PsFleetOptions) {
    this.log = opts.logger.child({ component: 'ps-client' });
    this.connect = opts.connect ?? ((addr: string) => new PsConnection({
      addr, maxMessageBytes: DEFAULT_MAX_REQUEST_BYTES * 2, credentials: opts.credentials, dataPlane: opts.dataPlane, http2Tls: opts.http2Tls,
    }));
    this.latestMap = opts.latestMap;
    this.current = this.routeFor(opts.shardMap);
    this.callTimeoutMs = opts.callTimeoutMs ?? 10_000;
    this.retry = { backoff: opts.backoff ?? DEFAULT_BACKOFF, retryDeadlineMs: opts.retryDeadlineMs ?? 60_000, logger: this.log };
  }

  /** The shard map requests are routed by now, and a connection per PS in its order. */
  get route(): Route {
    return this.current;
  }

  /** The shard map requests are routed by now. */
  get map(): ShardMap {
    return this.current.map;
  }

  /** The connections of the current map, in shard-map order. */
  get conns(): readonly PsConnection[] {
    return this.current.conns;
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
   * Runs `fn`, a request routed by `route`, with retries (`call`). When the PS refuses it as
   * routed with an old shard map, and a newer map is published, the fleet moves to that map and
   * `reroute` is run on the new route instead: the refused request was not applied, so the
   * caller slices it again and sends it anew. When no newer map is published, the PS has not
   * installed the map `route` carries yet: `fn` is retried like an UNAVAILABLE PS. With `psAddr`
   * (the PS `fn` calls), an UNAVAILABLE PS that a newer map no longer lists (failed over to its
   * buddy, issue 17) is re-routed the same way, with `failedOver` true: that PS may have applied
   * the request before it died, so a push is re-sent under `failedOverIdentity`, not a fresh one.
   */
  async callRouted<T>(what: string, route: Route, fn: () => Promise<T>, reroute: (next: Route, failedOver: boolean) => Promise<T>, psAddr?: string): Promise<T> {
    const out = await this.call(what, async (): Promise<{ value: T } | { next: Route; failedOver: boolean }> => {
      try {
        return { value: await fn() };
      } catch (err) {
        if (psAddr !== undefined && this.latestMap && isUnavailable(err)) {
          // A PS that stopped answering may have been failed over (its buddy owns its buckets
          // in a newer map): then re-send by that map, else keep retrying it.
          const next = await this.newerRoute(route.map.version);
          if (next && !next.map.ps.some((p) => p.addr === psAddr)) return { next, failedOver: true };
          throw err;
        }
        if (!isStaleMap(err) || !this.latestMap) throw err;
        const next = await this.newerRoute(route.map.version);
        if (next) return { next, failedOver: false };
        throw new TesseraError(ERROR_CODES.UNAVAILABLE, `${(err as Error).message}; the PS is still installing shard map ${route.map.version}`, { retryable: true });
      }
    });
    if ('value' in out) return out.value;
    this.reroutes++;
    this.log.debug({ what, from: route.map.version, to: out.next.map.version, failedOver: out.failedOver }, 'shard map changed: re-sending the request by the new map');
    return reroute(out.next, out.failedOver);
  }

  /**
   * The identity of a new push to the PS with id `psId`: this client's id and the next sequence
   * number, from 1. Take it once per push request, outside its retry loop.
   */
  pushIdentity(psId: number): PushIdentity {
    const seq = (this.pushSeqs.get(psId) ?? 0) + 1;
    this.pushSeqs.set(psId, seq);
    return { clientId: this.clientId, pushSeq: seq };
  }

  /**
   * The identity to re-send a push under when the PS with id `psId`, which it was sent to as
   * `sent`, is gone and a newer map gives its buckets to its buddy (failover). The promoted
   * buddy inherited the dead PS's dedup window under `inheritedClientId(client id, psId)` with
   * the original sequence numbers, so a push the dead PS applied and replicated, but never
   * answered, is acknowledged there instead of applied twice; one it never applied (or never
   * replicated) is unknown there and applied. Sequence numbers per PS id only grow, so the pair
   * is never reused; and since it names the identity it derives from, a push failed over twice
   * is recognized by the second buddy (which inherited the first's window) too.
   */
  failedOverIdentity(sent: PushIdentity, psId: number): PushIdentity {
    return { clientId: inheritedClientId(sent.clientId, psId), pushSeq: sent.pushSeq };
  }

  /** Index (in the order of `map`, by default the current one) of the PS holding dense table `table`. */
  ownerOfDense(table: string, map = this.map): number {
    if (map !== this.map) return map.owner[denseBucket(table, map.numBuckets)];
    let owner = this.denseOwner.get(table);
    if (owner === undefined) {
      owner = map.owner[denseBucket(table, map.numBuckets)];
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

  /**
   * Sends one attempt of a push request (`send`) and counts its answer: acknowledged (applied,
   * or acknowledged again as a retry) once it resolves; unanswered while it is on its way.
   */
  async countedPush<T>(send: () => Promise<T>): Promise<T> {
    this.unanswered++;
    try {
      const res = await send();
      this.acked++;
      return res;
    } finally {
      this.unanswered--;
    }
  }

  /**
   * Push requests acknowledged, and requests re-sent by a newer shard map, since this fleet
   * opened; and push requests sent but not answered yet. Logged on close: summed over a job's
   * workers, the acknowledged count equals the pushes its PS applied
   * (tessera_ps_requests_total{op="push",outcome="ok"} less tessera_ps_duplicate_pushes_total),
   * except that each request still unanswered at the close may have been applied too: closing
   * cancels the call, so its answer is never counted (a worker that stops pushing to a PS not as
   * the chief published it closes its client with pushes to the other PS still in flight).
   */
  get counts(): { pushesAcked: number; pushesUnanswered: number; reroutes: number } {
    return { pushesAcked: this.acked, pushesUnanswered: this.unanswered, reroutes: this.reroutes };
  }

  /** Closes every connection; calls in their retry loop fail at once. */
  close(): void {
    if (!this.closed) this.log.info({ ...this.counts, mapVersion: this.map.version }, 'closed the PS connections');
    this.closed = true;
    for (const c of this.byAddr.values()) c.close();
  }

  /**
   * A route newer than `version`: the current one if the fleet has moved already, else the
   * newest published map if it is newer (one read at a time, shared by every refused request).
   */
  private async newerRoute(version: number): Promise<Route | undefined> {
    if (this.current.map.version > version) return this.current;
    this.reading ??= this.latestMap!().finally(() => { this.reading = null; });
    const latest = await this.reading;
    if (latest && latest.version > this.current.map.version) {
      this.log.info({ from: this.current.map.version, to: latest.version }, 'routing by the new shard map');
      this.current = this.routeFor(latest);
      this.denseOwner = new Map();
    }
    return this.current.map.version > version ? this.current : undefined;
  }

  private routeFor(map: ShardMap): Route {
    const conns = map.ps.map((p) => {
      let c = this.byAddr.get(p.addr);
      if (!c) this.byAddr.set(p.addr, (c = this.connect(p.addr)));
      return c;
    });
    return { map, conns };
  }
}

/** UNAVAILABLE or a deadline: the PS may be gone. */
function isUnavailable(err: unknown): boolean {
  return err instanceof TesseraError && (err.code === ERROR_CODES.UNAVAILABLE || err.code === ERROR_CODES.DEADLINE);
}
