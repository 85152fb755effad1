/**
 * The chief's half of buddy replication (issue 17, `ps.replication: buddy`), free of transport:
 * it records each PS's buddy in the shard map it publishes, tells every PS its buddy once per map
 * version, and, when a PS of the map is gone from membership (its lease expired: a kill -9, a
 * lost node), promotes the buddy's replica of its buckets and publishes the map in which the
 * buddy owns them. Workers then follow the new map through the stale-map path (ADR 0035).
 * docs/control-plane.md ("Failover with a buddy replica") has the protocol and the loss bound.
 *
 * With `mode: none` it only keeps buddies out of the map: a lost PS waits to be restarted and is
 * restored from the latest checkpoint, as before.
 */
import type { Logger } from '../common/logger';
import type { Member } from '../membership/membership';
import { assignBuddies, failoverMap, sameBuddies, withBuddies } from '../sharding/buddies';
import { bucketsOwnedBy, ShardMap } from '../sharding/shard-map';
import { psNumber } from './ps-set';

/** `ps.replication` of the job spec. */
export type ReplicationMode = 'buddy' | 'none';

/** The PsReplication calls the keeper makes (src/client/replication-peers.ts over gRPC). */
export interface ReplicationPeers {
  configure(addr: string, req: { selfId: number; buddy: { id: number; addr: string } | null; primaries: readonly number[]; shardMapVersion: number }): Promise<void>;
  promote(addr: string, primaryId: number, buckets: readonly number[]): Promise<{ rows: number; pushesApplied: number; appliedAtMs: number; identities: number }>;
  lagSeconds(addr: string): Promise<number>;
}

/** What the keeper needs. */
export interface BuddyKeeperDeps {
  mode: ReplicationMode;
  peers: ReplicationPeers;
  shardMaps: { publish(map: ShardMap, expectedPreviousVersion: number): Promise<string> };
  logger: Logger;
  /** A replica was promoted (metrics, tests). */
  onPromoted?: (ev: { dead: number; buddy: number; rows: number; pushesApplied: number; appliedAtMs: number }) => void;
}

/** Buddies and failover for one chief. */
export class BuddyKeeper {
  private configuredVersion = -1;
  private readonly log: Logger;

  constructor(private readonly deps: BuddyKeeperDeps) {
    this.log = deps.logger.child({ component: 'replication' });
  }

  /**
   * When replication is on and PS of `stored` are not in `live` while each one's buddy is,
   * promotes the buddies' replicas and publishes the failover map (with buddies for the PS
   * left); returns it. Otherwise returns `stored` unchanged (the chief waits for the PS, and
   * restores it from a checkpoint when it comes back).
   */
  async failover(stored: ShardMap | undefined, live: readonly Member[]): Promise<ShardMap | undefined> {
    if (this.deps.mode !== 'buddy' || !stored) return stored;
    const here = new Set(live.map((m) => psNumber(m.id)));
    const dead = stored.ps.filter((p) => !here.has(p.id));
    if (dead.length === 0) return stored;
    const orphaned = dead.filter((p) => p.buddy === undefined || !here.has(p.buddy));
    if (orphaned.length > 0) {
      this.log.warn({ ps: orphaned.map((p) => p.id) }, 'PS gone with no live buddy to promote: waiting for it to come back (restored from the latest checkpoint)');
      return stored;
    }
    const next = this.withBuddiesFor(failoverMap(stored, new Set(dead.map((p) => p.id))), live);
    try {
      await this.promoteAll(stored, dead);
    } catch (err) {
      this.log.warn({ ps: dead.map((p) => p.id), err: (err as Error).message }, 'replica not promoted: waiting for the PS to come back (restored from the latest checkpoint)');
      return stored;
    }
    await this.deps.shardMaps.publish(next, stored.version);
    this.log.warn({ from: stored.version, to: next.version, dead: dead.map((p) => p.id) }, 'failover map published: the buddies own the lost PS\'s buckets');
    return next;
  }

  /** Promotes, on each dead PS's buddy, its replica of the dead PS's buckets in `stored`. */
  private async promoteAll(stored: ShardMap, dead: readonly ShardMap['ps'][number][]): Promise<void> {
    const byId = new Map(stored.ps.map((p) => [p.id, p]));
    for (const p of dead) {
      const buddy = byId.get(p.buddy!)!;
      const buckets = bucketsOwnedBy(stored, stored.ps.indexOf(p));
      const t0 = Date.now();
      const r = await this.deps.peers.promote(buddy.addr, p.id, buckets);
      this.log.warn({ dead: p.id, buddy: buddy.id, buckets: buckets.length, ...r, replicaAgeMs: r.appliedAtMs ? t0 - r.appliedAtMs : null, ms: Date.now() - t0 },
        'PS lost: promoted its buddy\'s replica');
      this.deps.onPromoted?.({ dead: p.id, buddy: buddy.id, rows: r.rows, pushesApplied: r.pushesApplied, appliedAtMs: r.appliedAtMs });
    }
  }

  /**
   * `map` with this job's buddies recorded: the same map when they are recorded already, else
   * (to be published) one version above it unless `fresh` (a map not published yet).
   */
  assign(map: ShardMap, live: readonly Member[], fresh: boolean): ShardMap {
    const want = this.withBuddiesFor(map, live);
    if (sameBuddies(want, map)) return map;
    return fresh ? want : { ...want, version: map.version + 1 };
  }

  /** Tells every PS of the installed `map` its buddy and whose replicas to keep (once per version). */
  async configure(map: ShardMap): Promise<void> {
    if (this.deps.mode !== 'buddy' || this.configuredVersion === map.version) return;
    const byId = new Map(map.ps.map((p) => [p.id, p]));
    await Promise.all(map.ps.map((p) => {
      const buddy = p.buddy === undefined ? null : { id: p.buddy, addr: byId.get(p.buddy)!.addr };
      const primaries = map.ps.filter((q) => q.buddy === p.id).map((q) => q.id);
      return this.deps.peers.configure(p.addr, { selfId: p.id, buddy, primaries, shardMapVersion: map.version });
    }));
    this.configuredVersion = map.version;
    this.log.info({ version: map.version, buddies: map.ps.map((p) => `${p.id}->${p.buddy ?? 'none'}`) }, 'replication configured');
  }

  /** Each PS's replication lag, seconds, by PS id (absent where the PS did not answer). */
  async lags(map: ShardMap): Promise<Map<number, number>> {
    const out = new Map<number, number>();
    if (this.deps.mode !== 'buddy') return out;
    await Promise.all(map.ps.map(async (p) => {
      try {
        out.set(p.id, await this.deps.peers.lagSeconds(p.addr));
      } catch {
        // a PS that does not answer has no lag to show; the guard reports it
      }
    }));
    return out;
  }

  private withBuddiesFor(map: ShardMap, live: readonly Member[]): ShardMap {
    if (this.deps.mode !== 'buddy') return withBuddies(map, new Map());
    const proc = new Map(live.map((m) => [psNumber(m.id), `${m.host}/${m.pid}`]));
    return withBuddies(map, assignBuddies(map.ps.map((p) => ({ id: p.id, process: proc.get(p.id) ?? `ps-${p.id}` }))));
  }
}
