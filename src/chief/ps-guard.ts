/**
 * The chief's watch over the PS: are they as it published them (ps-audit.ts), and putting them
 * back when not. Free of transport: the PS are reached through the ChiefModel's client.
 *
 * - A PS serving a shard-map version above the published one: the map is published again, same
 *   owners, one version above it (a PS never goes back to a lower version, which is what fences
 *   a stale chief), and every PS installs it. If no higher version can be written, the job fails.
 * - A PS that restarted empty, or whose tables were dropped or created again while it ran: its
 *   buckets are restored from the latest checkpoint, the path a restarted PS always took. A
 *   table lost with no checkpoint to restore it from fails the job: its rows are gone, and
 *   training on would report a model that is silently missing them.
 * - Afterwards the `tables` record (every table's incarnation on every PS) is written again, and
 *   workers, which send those incarnations with every request, reconnect with the new ones.
 */
import { ERROR_CODES } from '../common/errors';
import type { Logger } from '../common/logger';
import type { JobStore } from '../control/job-store';
import type { TableRecord } from '../control/job-types';
import type { Membership, MembershipEvent } from '../membership/membership';
import type { ShardMap } from '../sharding/shard-map';
import { restoreFromCheckpoint } from '../client/restore-checkpoint';
import type { StatsResponse } from '../client/admin-messages';
import type { ChiefModel } from './chief-model';
import { JobFailedError } from './job-failure';
import { allWell, auditPs, describeChanges, PsFindings, PsObservation, republishVersion, tableRecordOf } from './ps-audit';
import { psNumber } from './ps-set';

/**
 * Whether a PS membership change is a drained PS's planned exit rather than a change of the PS
 * the chief published: the PS left (its member key is gone), the published map `map` does not
 * list it (its buckets were migrated away: it owns none), and its drain is recorded done in etcd
 * (`drained`: member ids of done drain records). Such an exit changes nothing a checkpoint cut
 * reads, so the chief neither attaches the PS again nor abandons a checkpoint for it. Anything
 * else (a PS of the map leaving or coming back, one that left without a done drain) is a change.
 */
export function isPlannedExit(ev: Pick<MembershipEvent, 'type' | 'role' | 'id'>, map: ShardMap | undefined, drained: ReadonlySet<string>): boolean {
  if (ev.role !== 'ps' || ev.type !== 'remove' || !map || !drained.has(ev.id)) return false;
  let ps: number;
  try {
    ps = psNumber(ev.id);
  } catch {
    return false; // not a PS id the map could name
  }
  return !map.ps.some((p) => p.id === ps);
}

/** Deadline of one Stats call in a periodic check: a PS slower than this is skipped this time. */
const CHECK_STATS_TIMEOUT_MS = 2_000;

/** What the chief counts (metrics). */
export interface PsGuardEvents {
  /** PS that restarted empty were restored from checkpoint `checkpoint`. */
  psRestored(psIds: number[], checkpoint: string): void;
  /** PS whose tables were dropped or created again were restored. */
  tablesRestored(psIds: number[], checkpoint: string): void;
  /** The shard map was published again above a version a PS served. */
  mapRepublished(version: number): void;
}

export interface PsGuardDeps {
  membership: Pick<Membership, 'list'>;
  store: JobStore;
  shardMaps: { publish(map: ShardMap, expectedPreviousVersion: number): Promise<string> };
  logger: Logger;
  /** True when the job checkpoints (a PS can be restored from the latest checkpoint). */
  checkpoints: boolean;
  /** Resolves once no checkpoint is being written (a PS refuses a restore while it writes one). */
  settled: () => Promise<void>;
  events?: Partial<PsGuardEvents>;
}

export class PsGuard {
  private readonly log: Logger;

  constructor(private readonly deps: PsGuardDeps) {
    this.log = deps.logger.child({ component: 'ps-guard' });
  }

  /**
   * Each PS of `model`'s map: its member incarnation and its Stats. `once`: one attempt each with
   * a short deadline (a periodic check); otherwise with the client's retries (attaching).
   */
  async observe(model: ChiefModel, once: boolean): Promise<PsObservation[]> {
    const [members, stats] = await Promise.all([
      this.deps.membership.list('ps'),
      once ? model.client.admin.statsOnce(CHECK_STATS_TIMEOUT_MS) : model.client.admin.stats(),
    ]);
    return model.client.map.ps.map((p, i) => ({
      id: p.id,
      member: members.find((m) => psNumber(m.id) === p.id)?.incarnation,
      stats: stats[i] ? statsView(stats[i]!) : undefined,
    }));
  }

  /** What is wrong with the PS now (one quick Stats per PS), against the published map and record. */
  async check(model: ChiefModel, record: TableRecord | undefined): Promise<PsFindings> {
    const findings = auditPs(model.client.map, record, await this.observe(model, true));
    if (!allWell(findings)) this.log.warn({ findings }, 'parameter servers are not as published; attaching them again');
    return findings;
  }

  /**
   * Before the map is installed: when a PS (as `seen` before anything was installed or created)
   * serves a higher version, publishes the map again above it and returns false (attach again
   * with it). Fails the job when no higher version exists.
   */
  async ensureMapVersion(model: ChiefModel, seen: readonly PsObservation[]): Promise<boolean> {
    const map = model.client.map;
    const { mapAhead } = auditPs(map, undefined, seen);
    if (mapAhead.length === 0) return true;
    const version = republishVersion(map, mapAhead);
    const which = mapAhead.map((a) => `ps ${a.ps} at version ${a.version}`).join(', ');
    if (version === undefined) {
      throw new JobFailedError(ERROR_CODES.STALE_SHARD_MAP,
        `${which} serves a shard-map version above the published ${map.version}, and no higher version can be published (the largest is ${Number.MAX_SAFE_INTEGER}); restart that PS: it comes back empty and is restored from the latest checkpoint`);
    }
    await this.deps.shardMaps.publish({ ...map, version }, map.version);
    this.log.warn({ ps: mapAhead, published: map.version, version },
      `${which} serves a shard-map version the chief did not publish; published the map again as version ${version}, same owners`);
    this.deps.events?.mapRepublished?.(version);
    return false;
  }

  /**
   * After the tables were (re)created on every PS: restores the PS that restarted or lost tables
   * since `record` (as `seen` before the tables were created: the chief's own creation of a
   * missing table is not the change), and returns the record of the tables as they are now.
   */
  async reconcileTables(model: ChiefModel, record: TableRecord | undefined, seen: readonly PsObservation[]): Promise<TableRecord> {
    const f = auditPs(model.client.map, record, seen);
    if (f.recreated.length > 0) await this.restoreLostTables(model, f.recreated);
    if (f.restarted.length > 0) await this.restoreRestarted(model, f.restarted);
    return tableRecordOf(model.client.map, record, await this.observe(model, false));
  }

  /** PS alive all along whose tables were dropped: restore from the latest checkpoint, or fail. */
  private async restoreLostTables(model: ChiefModel, recreated: PsFindings['recreated']): Promise<void> {
    const what = describeChanges(recreated);
    const ptr = this.deps.checkpoints ? await this.deps.store.checkpointPointer() : undefined;
    if (!ptr) {
      throw new JobFailedError(ERROR_CODES.TABLE_INCARNATION,
        `tables were dropped under the running job (${what}) and there is no checkpoint to restore their rows from; run the job with checkpoints (--checkpoint-dir, --checkpoint-every) to survive this`);
    }
    const psIds = recreated.map((r) => r.ps);
    await this.deps.settled();
    const rows = await this.restore(model, ptr.root, ptr.id, psIds);
    this.log.warn({ ps: psIds, checkpoint: ptr.id, checkpointStep: ptr.step, rows, changes: recreated },
      `tables were dropped under the running job (${what}): restored those PS's buckets from the latest checkpoint; the updates they took since it are lost`);
    this.deps.events?.tablesRestored?.(psIds, ptr.id);
  }

  /**
   * PS that came back empty get their buckets from the latest checkpoint, so training goes on
   * without a global restart. Lost: the updates those shards took since that checkpoint. With
   * no checkpoint their rows start over (a restart is routine; the warning says what it cost).
   */
  private async restoreRestarted(model: ChiefModel, psIds: number[]): Promise<void> {
    const ptr = this.deps.checkpoints ? await this.deps.store.checkpointPointer() : undefined;
    if (!ptr) {
      this.log.warn({ ps: psIds }, 'parameter servers restarted empty and there is no checkpoint: their rows start over');
      return;
    }
    const rows = await this.restore(model, ptr.root, ptr.id, psIds);
    this.log.warn({ ps: psIds, checkpoint: ptr.id, checkpointStep: ptr.step, rows },
      'parameter servers restarted empty: restored their buckets from the latest checkpoint; the updates those shards took since it are lost');
    this.deps.events?.psRestored?.(psIds, ptr.id);
  }

  private async restore(model: ChiefModel, root: string, id: string, psIds: number[]): Promise<number> {
    const out = await restoreFromCheckpoint(model.client.checkpoints, root, id, { onlyPsIds: psIds });
    return out.reduce((n, r) => n + r.tables.reduce((k, t) => k + t.rows, 0), 0);
  }
}

function statsView(s: StatsResponse): NonNullable<PsObservation['stats']> {
  return { shardMapVersion: s.shardMapVersion, tables: Object.fromEntries(s.tables.map((t) => [t.name, t.incarnation])) };
}
