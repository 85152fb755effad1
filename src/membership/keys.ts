/**
 * The etcd key layout of one job (docs/etcd-keys.md is the reference; keep the two in step).
 * Every key lives under `/tessera/<job>/`; code opens `client.namespace(jobPrefix(job))` and then
 * uses the relative keys built here, so no other module spells a key by hand.
 *
 * ```ts
 * const ns = client.namespace(jobPrefix('criteo'));     // '/tessera/criteo/'
 * await ns.get(memberKey('worker', 'w-1')).string();     // '/tessera/criteo/members/worker/w-1'
 * ```
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import { ROLES, Role } from '../common/roles';

/** Job names appear in etcd keys (`/tessera/<name>/`), metric labels and directory names. */
export const JOB_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/;

/** Root of every Tessera key. */
export const KEY_ROOT = '/tessera/';

/** Relative keys and prefixes under the job prefix. */
export const KEYS = {
  /** `members/<role>/<id>`: one leased key per live process. */
  MEMBERS: 'members/',
  /** `election/<name>/<leaseId>`: etcd3 `Election` candidates; the chief election is named `chief`. */
  ELECTION: 'election/',
  /** The published shard map (JSON). */
  SHARD_MAP: 'shardmap',
  /** The job spec (YAML text plus its fingerprint). */
  SPEC: 'spec',
  /** Pointer to the newest complete checkpoint manifest. */
  CHECKPOINTS_LATEST: 'checkpoints/latest',
  /** The newest version of the job's delta stream to serving `{name, root, version, at}` (issue 15). */
  DELTAS_LATEST: 'deltas/latest',
  /** `assignments/<shard>`: which worker reads data shard `<shard>`. */
  ASSIGNMENTS: 'assignments/',
  /** `progress/<shard>`: how far data shard `<shard>` has been read. */
  PROGRESS: 'progress/',
  /** The job's epoch, phase and data-shard plan (JSON), written by the elected chief. */
  STATE: 'state',
  /** Live figures for `tessera status` and `tessera local` (JSON), written by the chief. */
  STATUS: 'status',
  /** Every table's incarnation on every PS (JSON), written by the chief. */
  TABLES: 'tables',
  /** `faults/<worker>`: a PS a worker found not as published, for the chief to repair. */
  FAULTS: 'faults/',
  /** The live resharding in progress (JSON); its `phase: commit` is written with `shardmap` (issue 17). */
  MIGRATION: 'migration',
  /** `drain/<member id>`: a PS asked to give its buckets away and exit (`tessera ps drain`). */
  DRAIN: 'drain/',
} as const;

/** Name of the chief election, the `<name>` in `election/<name>/`. */
export const CHIEF_ELECTION = 'chief';

/**
 * Member ids: 1–128 characters of `[A-Za-z0-9_.-]`, not `.` or `..`. No `/`, because the id is
 * the last key segment and `members/worker/` is listed by prefix.
 */
export const MEMBER_ID_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/;

/** Largest data-shard number in `assignments/<shard>` and `progress/<shard>`. */
export const MAX_SHARD = 1_000_000;

function invalid(message: string): TesseraError {
  return new TesseraError(ERROR_CODES.INVALID_ARGUMENT, message);
}

/** Throws INVALID_ARGUMENT naming `job` unless `job` matches the job-spec name rule. */
export function validateJobName(job: unknown): string {
  if (typeof job !== 'string' || !JOB_NAME_PATTERN.test(job) || job === '.' || job === '..') {
    throw invalid(`job must be 1-128 characters of [A-Za-z0-9_.-], not "." or ".." (got ${JSON.stringify(job)})`);
  }
  return job;
}

/** Throws INVALID_ARGUMENT naming `field` (default `id`) unless `id` is a valid member id. */
export function validateMemberId(id: unknown, field = 'id'): string {
  if (typeof id !== 'string' || !MEMBER_ID_PATTERN.test(id) || id === '.' || id === '..') {
    throw invalid(`${field} must be 1-128 characters of [A-Za-z0-9_.-], not "." or ".." (got ${JSON.stringify(id)})`);
  }
  return id;
}

/** Throws INVALID_ARGUMENT naming `role` unless it is one of {@link ROLES}. */
export function validateRole(role: unknown): Role {
  if (!(ROLES as readonly unknown[]).includes(role)) {
    throw invalid(`role must be one of ${ROLES.join(', ')} (got ${JSON.stringify(role)})`);
  }
  return role as Role;
}

/** Throws INVALID_ARGUMENT naming `shard` unless it is an integer in [0, MAX_SHARD]. */
export function validateShard(shard: unknown): number {
  if (typeof shard !== 'number' || !Number.isInteger(shard) || shard < 0 || shard > MAX_SHARD) {
    throw invalid(`shard must be an integer in [0, ${MAX_SHARD}] (got ${JSON.stringify(shard)})`);
  }
  return shard;
}

/** `/tessera/<job>/`, the namespace every job key lives in. */
export function jobPrefix(job: string): string {
  return `${KEY_ROOT}${validateJobName(job)}/`;
}

/** `members/` (all roles) or `members/<role>/`. */
export function memberPrefix(role?: Role): string {
  return role === undefined ? KEYS.MEMBERS : `${KEYS.MEMBERS}${validateRole(role)}/`;
}

/** `members/<role>/<id>`. */
export function memberKey(role: Role, id: string): string {
  return `${memberPrefix(role)}${validateMemberId(id)}`;
}

/** The role and id of a relative `members/<role>/<id>` key, or undefined for any other key. */
export function parseMemberKey(key: string): { role: Role; id: string } | undefined {
  const parts = key.split('/');
  if (parts.length !== 3 || `${parts[0]}/` !== KEYS.MEMBERS) return undefined;
  const [, role, id] = parts;
  if (!(ROLES as readonly string[]).includes(role) || !MEMBER_ID_PATTERN.test(id)) return undefined;
  return { role: role as Role, id };
}

/** `election/<name>/`, the prefix etcd3's `namespace.election(name)` campaigns under. */
export function electionPrefix(name: string = CHIEF_ELECTION): string {
  return `${KEYS.ELECTION}${validateMemberId(name, 'election name')}/`;
}

/** `assignments/<shard>`. */
export function assignmentKey(shard: number): string {
  return `${KEYS.ASSIGNMENTS}${validateShard(shard)}`;
}

/** `faults/<worker>`. */
export function faultKey(worker: string): string {
  return `${KEYS.FAULTS}${validateMemberId(worker, 'worker')}`;
}

/** `progress/<shard>`. */
export function progressKey(shard: number): string {
  return `${KEYS.PROGRESS}${validateShard(shard)}`;
}

/** `drain/<member id>`. */
export function drainKey(memberId: string): string {
  return `${KEYS.DRAIN}${validateMemberId(memberId)}`;
}
