/**
 * The job's status as one JSON record, built from what etcd holds: `tessera status --json`
 * prints it, and the chief's `/api/status` serves it with its live additions (history, tables,
 * checkpoints; status-page.ts). Pure. Epochs are 1-based, as everywhere a person reads them.
 */
import type { JobSnapshot } from '../control/job-store';
import type { CheckpointPointer, JobStatus } from '../control/job-types';
import type { Member } from '../membership/membership';
import { bucketsOwnedBy, ShardMap } from '../sharding/shard-map';

/** What the record is built from (all read from etcd). */
export interface StatusSources {
  job: string;
  chief: string | null | undefined;
  members: readonly Member[];
  map: ShardMap | undefined;
  snap: Pick<JobSnapshot, 'state' | 'assignments' | 'progress'> & Partial<Pick<JobSnapshot, 'migration' | 'drains'>>;
  live: JobStatus | undefined;
  checkpoint?: CheckpointPointer;
}

/** The status record (see docs/observability.md for the fields). */
export type StatusRecord = ReturnType<typeof statusRecord>;

/** Builds the record. */
export function statusRecord(src: StatusSources) {
  const { snap, live, map } = src;
  const state = snap.state;
  return {
    job: src.job,
    chief: chiefId(src.chief),
    members: src.members.map((m) => ({ role: m.role, id: m.id, addr: m.addr, metrics: m.metrics ?? null, incarnation: m.incarnation, startedAt: m.startedAt })),
    shard_map: map ? {
      version: map.version, num_buckets: map.numBuckets,
      ps: map.ps.map((p, i) => ({ id: p.id, addr: p.addr, buckets: bucketsOwnedBy(map, i).length, buddy: p.buddy ?? null })),
    } : null,
    migration: migrationView(snap.migration),
    drains: [...(snap.drains?.values() ?? [])].map((d) => ({ ps: d.id, done: d.done, at: d.at })),
    progress: live ? {
      phase: live.phase, epoch: live.epoch + 1, epochs: live.epochs, step: live.step, samples: live.samples,
      samples_per_s: live.samplesPerS, loss: live.loss, last_eval: live.lastEval ? { ...live.lastEval, epoch: live.lastEval.epoch + 1 } : null,
      shards_done: live.shardsDone, shards_total: live.shardsTotal, workers: live.workers,
      nonfinite_stops: live.nonFiniteStops ?? 0, push_staleness_p99: live.pushStalenessP99 ?? null, result: live.result ?? null, at: live.at,
    } : null,
    evals: (state?.evals ?? []).map((e) => ({ ...e, epoch: e.epoch + 1 })),
    checkpoint: src.checkpoint ? { ...src.checkpoint, epoch: src.checkpoint.epoch + 1 } : null,
    shards: state ? state.shards.map((sh) => {
      const a = snap.assignments.get(sh.id);
      const p = snap.progress.get(sh.id);
      const current = p && p.epoch === state.epoch ? p : undefined;
      return {
        shard: sh.id, path: sh.path, start: sh.start, end: sh.end, worker: a?.worker ?? null, rows: current?.rows ?? 0,
        next: current?.next ?? sh.start, done: current?.done ?? false, ...(current?.nonFinite ? { nonfinite: current.nonFinite } : {}),
      };
    }) : [],
  };
}

/** The live resharding in progress: buckets moving of all, by source and target (issue 17). */
function migrationView(m: JobSnapshot['migration']) {
  if (!m) return null;
  return {
    id: m.id, phase: m.phase, from_version: m.fromVersion, to_version: m.to.version, started_at: m.startedAt,
    buckets: m.moves.reduce((n, x) => n + x.buckets, 0), of: m.to.numBuckets, moves: m.moves,
  };
}

/** The elected chief's id: its election value is `{"id","addr"}` JSON (older chiefs: a bare id). */
function chiefId(value: string | null | undefined): string | null {
  if (!value) return null;
  try {
    const v = JSON.parse(value) as { id?: unknown };
    return typeof v.id === 'string' ? v.id : value;
  } catch {
    return value;
  }
}

/** Where statusSources reads from: the job's records in etcd. */
export interface StatusReaders {
  job: string;
  membership: { list(): Promise<Member[]> };
  leader: () => Promise<string | undefined>;
  shardMap: () => Promise<ShardMap | undefined>;
  store: { snapshot(): Promise<JobSnapshot>; status(): Promise<JobStatus | undefined>; checkpointPointer(): Promise<CheckpointPointer | undefined> };
}

/** Reads every source of the record, in parallel. */
export async function statusSources(r: StatusReaders): Promise<StatusSources> {
  const [members, chief, map, snap, live, checkpoint] = await Promise.all([
    r.membership.list(), r.leader(), r.shardMap(), r.store.snapshot(), r.store.status(), r.store.checkpointPointer(),
  ]);
  return { job: r.job, chief, members, map, snap, live, checkpoint };
}
