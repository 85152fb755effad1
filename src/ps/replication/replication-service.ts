/**
 * gRPC adapter for tessera.v1.PsReplication (issue 17), and the sender that streams this PS's
 * replication log to its buddy: a batch every `intervalMs` (100 ms), or at once when `maxRows`
 * rows are pending, one batch in flight at a time. A batch that fails is followed by a full copy
 * (a reset), so the buddy never holds a replica with a gap. The logic is in replication-log.ts
 * (primary) and replica-store.ts (buddy); this file checks requests and moves bytes.
 */
import * as grpc from '@grpc/grpc-js';
import { Gauge, Registry } from 'prom-client';
import { ERROR_CODES, TesseraError } from '../../common/errors';
import type { Logger } from '../../common/logger';
import { replicationCallOn, replicationClient } from '../../wire/replication-client';
import { psReplicationService } from '../../wire/services';
import { toServiceError } from '../../wire/status-map';
import { tolerantService, undecodableError } from '../../wire/tolerant-decode';
import { bucketMaskFromBytes } from '../migration/bucket-set';
import type { PsNode } from '../ps-node';
import { tableSpecFromWire, tableSpecToWire, WireTableSpec } from '../table-spec-wire';
import { ReplicaStore } from './replica-store';
import { ReplicaBatch, ReplicationLog } from './replication-log';

/**
 * Pending rows at which a batch goes at once (the shipped pushes that pile up while one batch is
 * in flight go with the next, so batches run larger under load). 16,384 rather than 65,536: a
 * buddy replays each batch in one step of its event loop, between its own pushes, and four
 * times smaller steps moved the two-PS bench's push rate +7% to +60% in five paired runs, at
 * about the same CPU per pushed row (ADR 0037, amendment 3).
 */
export const DEFAULT_BATCH_ROWS = 16_384;

/** How often and how much the sender sends. */
export interface ReplicationOptions {
  /** A batch at least this often while pushes are applied, ms. Default 100. */
  intervalMs?: number;
  /** A batch at once when this many rows are pending. Default `DEFAULT_BATCH_ROWS`. */
  maxRows?: number;
  /** Deadline of one batch, ms. Default 10 s. */
  timeoutMs?: number;
}

interface Buddy {
  id: number;
  addr: string;
  client: ReturnType<typeof replicationClient>;
}

/** Replication on one PS: its log and sender as a primary, its replicas as a buddy. */
export class Replication {
  readonly replicas: ReplicaStore;
  readonly counts = { batches: 0, rowsSent: 0, failures: 0 };
  private log: ReplicationLog | null = null;
  private buddy: Buddy | null = null;
  private sending = false;
  /** Failed batches in a row, and when the next may be tried (backoff while the buddy is down). */
  private failures = 0;
  private retryAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly intervalMs: number;
  private readonly maxRows: number;
  private readonly timeoutMs: number;

  constructor(private readonly node: PsNode, private readonly logger: Logger, private readonly credentials?: grpc.ChannelCredentials, opts: ReplicationOptions = {}) {
    this.replicas = new ReplicaStore(node);
    this.intervalMs = opts.intervalMs ?? 100;
    this.maxRows = opts.maxRows ?? DEFAULT_BATCH_ROWS;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** Seconds of applied pushes the buddy does not hold yet (0 with no buddy or nothing pending). */
  lagSeconds(): number {
    return this.log?.lagSeconds() ?? 0;
  }

  /**
   * Sets this PS's buddy (`buddyAddr` empty: none) and the primaries whose replicas it keeps. A
   * new buddy starts from a full copy of the rows this PS owns now.
   */
  configure(req: { selfId: number; buddyAddr: string; buddyId: number; primaries: Buffer }): { changed: boolean } {
    if (req.buddyAddr !== '' && !/^.+:\d{1,5}$/.test(req.buddyAddr)) throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `buddy_addr: must be "host:port" or empty, got ${JSON.stringify(req.buddyAddr)}`);
    if (req.primaries.byteLength % 4 !== 0) throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `primaries: ${req.primaries.byteLength} bytes is not a list of packed uint32 ids`);
    const keep = new Set(new Uint32Array(Uint8Array.from(req.primaries).buffer));
    this.replicas.retain(keep);
    const same = this.buddy?.addr === req.buddyAddr && this.buddy.id === req.buddyId && this.log?.primaryId === req.selfId;
    if (same) {
      // Owned buckets may have changed (a migration, a promotion): copy again what is owned now.
      this.log!.resync();
      return { changed: false };
    }
    this.stop();
    if (req.buddyAddr === '') {
      this.logger.info('replication off: no buddy');
      return { changed: true };
    }
    this.buddy = { id: req.buddyId, addr: req.buddyAddr, client: replicationClient(req.buddyAddr, this.credentials) };
    const log = new ReplicationLog(this.node, { primaryId: req.selfId });
    this.log = log;
    this.node.onApplied = (t, ids, c, s, r, g) => {
      log.applied(t, ids, c, s, r, g);
      if (log.pendingIds >= this.maxRows) void this.flush();
    };
    this.timer = setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
    this.logger.info({ self: req.selfId, buddy: req.buddyId, addr: req.buddyAddr, keep: [...keep] }, 'replicating to a buddy');
    return { changed: true };
  }

  /** Loads the replica of dead `primaryId`'s `buckets` into the live tables (in time slices: this PS keeps serving). */
  async promote(req: { primaryId: number; buckets: Buffer }): Promise<object> {
    const t0 = performance.now();
    const p = await this.replicas.promote(req.primaryId, bucketMaskFromBytes(req.buckets, this.node.bucketCount, 'buckets'));
    this.logger.warn({ ...p, ms: Math.round(performance.now() - t0), ageMs: p.appliedAtMs ? Date.now() - p.appliedAtMs : null }, 'replica promoted: its rows are live on this PS');
    return p;
  }

  /** Lag and counters as a primary. */
  status(): object {
    return { lagSeconds: this.lagSeconds(), buddyAddr: this.buddy?.addr ?? '', ...this.counts };
  }

  /** Stops sending (the replicas held stay). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.node.onApplied = null;
    this.buddy?.client.close();
    this.buddy = null;
    this.log?.close();
    this.log = null;
  }

  /** Sends the next batch, unless one is in flight. */
  private async flush(): Promise<void> {
    const log = this.log;
    const buddy = this.buddy;
    if (this.sending || !log || !buddy || performance.now() < this.retryAt) return;
    const batch = log.cut(this.maxRows);
    if (!batch) return;
    this.sending = true;
    try {
      const { oldestMs: _o, ...rest } = batch;
      const req = { ...rest, specs: batch.specs.map(tableSpecToWire) };
      await replicationCallOn(buddy.client, buddy.addr, 'Replicate', req, this.timeoutMs);
      if (this.log !== log) return;
      log.acked(batch);
      this.counts.batches++;
      this.counts.rowsSent += batch.rows;
      if (this.failures > 0) this.logger.info({ buddy: buddy.addr, failures: this.failures }, 'replication to the buddy resumed');
      this.failures = 0;
      this.retryAt = 0;
    } catch (err) {
      if (this.log !== log) return;
      this.counts.failures++;
      log.failed(batch);
      // Back off to 5 s: a dead buddy costs a full copy per attempt, and the chief reassigns it.
      this.retryAt = performance.now() + Math.min(5_000, this.intervalMs * 2 ** ++this.failures);
      if ((this.failures & (this.failures - 1)) === 0) {
        this.logger.warn({ buddy: buddy.addr, failures: this.failures, err: (err as Error).message }, 'replication batch failed; a full copy follows once the buddy answers');
      }
    } finally {
      this.sending = false;
    }
    if (this.log === log && (log.pendingIds >= this.maxRows || log.walkingTier)) void this.flush();
  }
}

/** Registers `tessera_ps_replica_lag_seconds` for `replication` on `registry`. */
function registerLag(registry: Registry, replication: Replication): void {
  new Gauge({
    name: 'tessera_ps_replica_lag_seconds', registers: [registry],
    help: 'Seconds since the oldest push applied on this PS that its buddy has not acknowledged (0: the replica holds every push); a kill now loses that interval.',
    collect() { this.set(replication.lagSeconds()); },
  });
}

/**
 * Registers tessera.v1.PsReplication for `node` on `server`; `credentials` are what this PS
 * presents to its buddy. Returns the Replication (stop it at shutdown).
 */
export function addReplicationService(server: grpc.Server, node: PsNode, logger: Logger, opts: { credentials?: grpc.ChannelCredentials; metrics?: Registry } & ReplicationOptions = {}): Replication {
  const r = new Replication(node, logger.child({ component: 'replication' }), opts.credentials, opts);
  if (opts.metrics) registerLag(opts.metrics, r);
  const unary = <Req>(method: string, body: (req: Req) => object | Promise<object>) => (call: grpc.ServerUnaryCall<Req, object>, cb: grpc.sendUnaryData<object>) => {
    const undecodable = undecodableError(call.request, method);
    if (undecodable) return cb(toServiceError(undecodable));
    try {
      const out = body(call.request);
      if (out instanceof Promise) out.then((v) => cb(null, v), (err: unknown) => cb(toServiceError(err)));
      else cb(null, out);
    } catch (err) {
      cb(toServiceError(err));
    }
  };
  server.addService(tolerantService(psReplicationService().service), {
    Replicate: unary('Replicate', (req: Omit<ReplicaBatch, 'oldestMs' | 'rows' | 'specs'> & { specs: WireTableSpec[] }) => ({
      rows: r.replicas.apply({ ...req, specs: req.specs.map(tableSpecFromWire), rows: 0 }),
    })),
    ConfigureReplication: unary('ConfigureReplication', (req: Parameters<Replication['configure']>[0]) => r.configure(req)),
    PromoteReplica: unary('PromoteReplica', (req: Parameters<Replication['promote']>[0]) => r.promote(req)),
    ReplicationStatus: unary('ReplicationStatus', () => r.status()),
  });
  return r;
}
