/**
 * The chief's half of live resharding (issue 17), free of transport: when a PS joins (a live
 * `ps` member the shard map does not list) or is asked to drain (`drain/<id>`), it plans the next
 * step (sharding/migration-step.ts), records it in etcd, drives the PS through copy, tail rounds
 * and fence, commits by publishing the new map in the same transaction as `phase: commit`,
 * installs the map and ends the migration on every PS. A recorded migration found at the next
 * reconcile (this chief failed mid-way, or a predecessor died) is rolled back before its commit
 * and forward after it. docs/control-plane.md ("Live resharding") argues why no update is lost or
 * applied twice.
 *
 * ```ts
 * const driver = new MigrationDriver({ store, membership, peers, prepare, settled, logger });
 * if (await driver.reconcile(snapshot, publishedMap)) reattach();   // the map changed
 * ```
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { Logger } from '../common/logger';
import type { JobSnapshot, JobStore } from '../control/job-store';
import type { MigrationRecord } from '../control/job-types';
import type { Member, Membership } from '../membership/membership';
import { nextMigrationStep, withIdlePs } from '../sharding/migration-step';
import type { MigrationMove } from '../sharding/migration-step';
import { PsEndpoint, ShardMap, shardMapFromJSON, shardMapToJSON } from '../sharding/shard-map';
import { fenceOf, FenceStages, runRounds, RoundPeers, SourceRounds } from './migration-rounds';
import { psNumber } from './ps-set';

/** The chief's calls to the PS of a migration (GrpcMigrationPeers over gRPC). */
export interface MigrationPeers extends RoundPeers {
  end(addr: string, migrationId: string, commit: boolean): Promise<{ rowsDropped: number; known: boolean }>;
  /** Installs `map` on each of its PS (one owning no bucket in it owns none); `onInstalled(addr)` as each PS has it. */
  install(map: ShardMap, onInstalled?: (addr: string) => void): Promise<void>;
}

/** What a finished migration did, for logs and metrics. */
export interface MigrationDone {
  id: string;
  version: number;
  buckets: number;
  rows: number;
  /** Longest fence (pushes to a source's moving buckets refused): fencing SendTail sent to the new map on the source and its target, ms. */
  fenceMs: number;
  /** Where the longest fence went, ms (see FenceStages). */
  fence: FenceStages;
  ms: number;
}

export interface MigrationDriverDeps {
  store: Pick<JobStore, 'createMigration' | 'commitMigration' | 'deleteMigration' | 'settleDrains'>;
  membership: Pick<Membership, 'list'>;
  peers: MigrationPeers;
  /**
   * Creates the job's tables on each PS of `map` as `map` places them: embedding tables on every
   * PS, a dense table on the owner of its bucket (idempotent). Installs nothing.
   */
  prepare(map: ShardMap): Promise<void>;
  /** Resolves once no checkpoint or delta cut is being written (a table holds one cut at a time). */
  settled(): Promise<void>;
  logger: Logger;
  onDone?: (d: MigrationDone) => void;
  now?: () => number;
}

export class MigrationDriver {
  private readonly log: Logger;
  private readonly now: () => number;
  private lastRefusal = '';
  private readonly drainedIds = new Set<string>();

  constructor(private readonly deps: MigrationDriverDeps) {
    this.log = deps.logger.child({ component: 'migration' });
    this.now = deps.now ?? Date.now;
  }

  /**
   * Member ids of the PS whose drain is recorded done (read from etcd, or recorded by this
   * driver), until their records are deleted after they left: their exit is planned.
   */
  get drained(): ReadonlySet<string> {
    return this.drainedIds;
  }

  /**
   * One reconcile over the published map `current`: finishes or rolls back a recorded migration,
   * else runs the next step toward the PS set the members and drains ask for, else records the
   * drains that are done. True when the published map changed (attach the PS again).
   */
  async reconcile(snap: Pick<JobSnapshot, 'migration' | 'drains'>, current: ShardMap): Promise<boolean> {
    const live = await this.deps.membership.list('ps');
    if (snap.migration) return this.recover(snap.migration, live);
    const draining = this.drainingIds(snap.drains.keys());
    const inMap = new Set(current.ps.map((p) => p.id));
    const joining = live.filter((m) => !inMap.has(psNumber(m.id)) && !draining.has(psNumber(m.id))).map((m) => ({ id: psNumber(m.id), addr: m.addr }));
    const desired = [...current.ps.filter((p) => !draining.has(p.id)), ...joining];
    if (desired.length === 0) {
      this.refuse(`cannot drain ${[...snap.drains.keys()].join(', ')}: no PS would be left to own the buckets; start another PS first`);
      return false;
    }
    const step = nextMigrationStep(current, desired);
    if (step) {
      await this.deps.settled();
      await this.run(current, step.to, step.moves);
      return true;
    }
    const liveIds = new Set(live.map((m) => m.id));
    const done = [...snap.drains.values()].filter((d) => !d.done && /\d$/.test(d.id) && !inMap.has(psNumber(d.id))).map((d) => d.id);
    const forget = [...snap.drains.values()].filter((d) => d.done && !liveIds.has(d.id)).map((d) => d.id);
    if (done.length > 0) this.log.info({ ps: done }, 'drained: the PS owns no bucket and may exit');
    // Known before the record is written, so the PS's exit (it exits on reading it) is never seen first.
    for (const d of snap.drains.values()) if (d.done) this.drainedIds.add(d.id);
    for (const id of done) this.drainedIds.add(id);
    await this.deps.store.settleDrains(done, forget);
    for (const id of forget) this.drainedIds.delete(id);
    return false;
  }

  /** Runs one migration from `from` to `to`: record, copy, tails, fence, commit, install, end. */
  private async run(from: ShardMap, to: ShardMap, moves: MigrationMove[]): Promise<void> {
    const t0 = this.now();
    const byId = new Map<number, PsEndpoint>([...from.ps, ...to.ps].map((p) => [p.id, p]));
    const record: MigrationRecord = {
      id: `mig-v${to.version}`, fromVersion: from.version, to: shardMapToJSON(to), phase: 'copy', ps: [...byId.values()].sort((a, b) => a.id - b.id),
      moves: moves.map((m) => ({ from: m.from, to: m.to, buckets: m.buckets.length })), startedAt: new Date(t0).toISOString(),
    };
    if (!(await this.deps.store.createMigration(record))) return; // recorded meanwhile: the next reconcile recovers it
    this.log.info({ migration: record.id, from: from.version, to: to.version, moves: record.moves }, 'migration started');
    let sources: SourceRounds[];
    let committed: number;
    try {
      // Targets install `from` owning nothing (they stage, and refuse requests), then get the tables `to` places on them.
      await this.deps.peers.install(withIdlePs(from, to.ps));
      await this.deps.prepare(to);
      const ps = (id: number) => byId.get(id)!;
      sources = await runRounds(this.deps.peers, {
        id: record.id, fromVersion: from.version, now: this.now,
        moves: moves.map((m) => ({ source: ps(m.from).addr, sourceId: m.from, target: ps(m.to).addr, buckets: m.buckets })),
      });
      await this.deps.store.commitMigration(record);
      committed = this.now();
    } catch (err) {
      this.log.warn({ migration: record.id, err: (err as Error).message }, 'migration failed before its commit; rolling it back');
      await this.rollBack(record, await this.deps.membership.list('ps'));
      throw err;
    }
    const installed = await this.rollForward({ ...record, phase: 'commit' }, await this.deps.membership.list('ps'));
    const fences = sources.map((x) => fenceOf(x, sources, committed, installed));
    const { fenceMs, stages: fence } = fences.reduce((a, b) => (b.fenceMs > a.fenceMs ? b : a)); // the longest
    const done: MigrationDone = {
      id: record.id, version: to.version, buckets: moves.reduce((n, m) => n + m.buckets.length, 0), rows: sources.reduce((n, s) => n + s.rows, 0), fenceMs, fence, ms: this.now() - t0,
    };
    this.log.info(done, 'migration committed');
    this.deps.onDone?.(done);
  }

  /** Finishes or undoes a recorded migration; true when the published map changed (commit). */
  private async recover(record: MigrationRecord, live: readonly Member[]): Promise<boolean> {
    this.log.warn({ migration: record.id, phase: record.phase }, record.phase === 'commit'
      ? 'found a committed migration not finished: installing its map and dropping the moved rows at the sources'
      : 'found a migration that did not commit: rolling it back (the sources still own its buckets)');
    if (record.phase === 'commit') await this.rollForward(record, live);
    else await this.rollBack(record, live);
    return record.phase === 'commit';
  }

  /** Before the commit: every live PS of the migration lifts its fence and drops what it staged. */
  private async rollBack(record: MigrationRecord, live: readonly Member[]): Promise<void> {
    await this.onLive(record, live, (p) => this.deps.peers.end(p.addr, record.id, false));
    await this.deps.store.deleteMigration();
    this.log.warn({ migration: record.id }, 'migration rolled back');
  }

  /** After the commit: install the new map everywhere (a PS leaving it owns none), drop at the sources; when each PS had the map. */
  private async rollForward(record: MigrationRecord, live: readonly Member[]): Promise<(addr: string) => number> {
    const to = shardMapFromJSON(record.to);
    const liveIds = new Set(live.map((m) => psNumber(m.id)));
    const at = new Map<string, number>();
    await this.deps.peers.install(withIdlePs(to, record.ps.filter((p) => liveIds.has(p.id))), (addr) => at.set(addr, this.now()));
    const all = this.now();
    await this.onLive(record, live, (p) => this.deps.peers.end(p.addr, record.id, true));
    await this.deps.store.deleteMigration();
    return (addr) => at.get(addr) ?? all;
  }

  /**
   * Runs `fn` on every PS of the migration that is a live member. One that is not holds nothing
   * of it (the PS half is in memory and a restart empties it); a live one that fails is retried
   * at the next reconcile.
   */
  private async onLive(record: MigrationRecord, live: readonly Member[], fn: (p: PsEndpoint) => Promise<unknown>): Promise<void> {
    const liveIds = new Set(live.map((m) => psNumber(m.id)));
    const out = await Promise.allSettled(record.ps.filter((p) => liveIds.has(p.id)).map(fn));
    const failed = out.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      throw new TesseraError(ERROR_CODES.UNAVAILABLE, `migration ${record.id}: a PS did not end it (${(failed.reason as Error).message}); trying again`);
    }
  }

  /** PS numbers asked to drain; a record whose id names no PS number (written by hand) is logged and skipped. */
  private drainingIds(ids: Iterable<string>): Set<number> {
    const out = new Set<number>();
    for (const id of ids) {
      try {
        out.add(psNumber(id));
      } catch (err) {
        this.refuse(`ignoring drain/${id}: ${(err as Error).message}`);
      }
    }
    return out;
  }

  private refuse(why: string): void {
    if (why !== this.lastRefusal) this.log.error(why);
    this.lastRefusal = why;
  }
}

