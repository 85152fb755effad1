/**
 * Is every PS as the chief published it? Pure: from the shard map, the `tables` record and what
 * each PS answers (Stats) and etcd says (its member incarnation), it names what is wrong:
 *
 * - a PS serving a shard-map version above the published one (someone else installed it: every
 *   request routed with the published map is refused as stale, forever);
 * - a PS serving an older version (it has not been told of the current map);
 * - a PS that restarted since the tables were recorded (it came back empty); a PS whose member
 *   incarnation changed while every recorded table is there under its recorded incarnation did
 *   not restart: it re-registered after losing its etcd lease (a stall past the TTL) and kept
 *   its rows, which a restore from a checkpoint would roll back (issue 17);
 * - a PS alive all along whose table was dropped, or dropped and created again (its rows are gone,
 *   though the PS itself looks healthy).
 *
 * The chief acts on the findings (ps-guard.ts); tests need no cluster.
 */
import type { PsTables, TableRecord } from '../control/job-types';
import type { ShardMap } from '../sharding/shard-map';

/** One PS of the map as the chief sees it now. */
export interface PsObservation {
  /** The PS's stable id in the shard map. */
  id: number;
  /** Its membership incarnation; undefined while it is not registered. */
  member: string | undefined;
  /** What it answered to Stats; undefined when it did not answer. */
  stats: { shardMapVersion: number; tables: Record<string, number> } | undefined;
}

/** A table whose incarnation is not the recorded one; `found` null: the table is gone. */
export interface TableChange {
  table: string;
  expected: number;
  found: number | null;
}

/** What is wrong, per kind; every list empty: the PS are as published. */
export interface PsFindings {
  /** PS serving a shard-map version above the published one, with that version. */
  mapAhead: { ps: number; version: number }[];
  /** PS serving an older shard-map version. */
  mapBehind: number[];
  /** PS whose member incarnation changed since the record, and their tables with it: they restarted empty. */
  restarted: number[];
  /** PS that did not restart but whose tables were dropped or created again. */
  recreated: { ps: number; changes: TableChange[] }[];
}

/** Compares what the PS report with the published map and the recorded tables. */
export function auditPs(map: ShardMap, record: TableRecord | undefined, seen: readonly PsObservation[]): PsFindings {
  const out: PsFindings = { mapAhead: [], mapBehind: [], restarted: [], recreated: [] };
  for (const p of seen) {
    if (!p.stats || p.member === undefined) continue; // down or not registered: membership handles it
    if (p.stats.shardMapVersion > map.version) out.mapAhead.push({ ps: p.id, version: p.stats.shardMapVersion });
    else if (p.stats.shardMapVersion < map.version) out.mapBehind.push(p.id);
    const recorded = record?.ps.find((r) => r.id === p.id);
    if (!recorded) continue;
    const changes = tableChanges(recorded, p.stats.tables);
    if (changes.length === 0) continue; // the same tables: a new member incarnation is a lease lost and regained
    if (recorded.member !== p.member) out.restarted.push(p.id);
    else out.recreated.push({ ps: p.id, changes });
  }
  return out;
}

/** Tables of `recorded` that `now` lacks or holds under another incarnation. */
export function tableChanges(recorded: PsTables, now: Record<string, number>): TableChange[] {
  const out: TableChange[] = [];
  for (const [table, expected] of Object.entries(recorded.tables)) {
    const found = Object.prototype.hasOwnProperty.call(now, table) ? now[table] : null;
    if (found !== expected) out.push({ table, expected, found });
  }
  return out;
}

/** True when nothing is wrong. */
export function allWell(f: PsFindings): boolean {
  return f.mapAhead.length + f.mapBehind.length + f.restarted.length + f.recreated.length === 0;
}

/**
 * The version to republish the map under so that every PS accepts it (a PS refuses a version
 * below its own): one above the highest served. Undefined when that is not an exact integer.
 */
export function republishVersion(map: ShardMap, ahead: readonly { version: number }[]): number | undefined {
  const v = Math.max(map.version, ...ahead.map((a) => a.version)) + 1;
  return Number.isSafeInteger(v) ? v : undefined;
}

/** The `tables` record of what the PS hold now (next generation after `previous`). */
export function tableRecordOf(map: ShardMap, previous: TableRecord | undefined, seen: readonly PsObservation[]): TableRecord {
  return {
    generation: (previous?.generation ?? 0) + 1,
    mapVersion: map.version,
    ps: seen.map((p) => ({ id: p.id, member: p.member ?? '', tables: { ...(p.stats?.tables ?? {}) } })),
  };
}

/** One line per PS: `table "emb" was dropped`, `table "emb" was created again (incarnation 7, recorded 3)`. */
export function describeChanges(recreated: PsFindings['recreated']): string {
  return recreated.map(({ ps, changes }) => `ps ${ps}: ${changes.map((c) => (c.found === null
    ? `table "${c.table}" was dropped`
    : `table "${c.table}" was dropped and created again (incarnation ${c.found}, recorded ${c.expected})`)).join(', ')}`).join('; ');
}
