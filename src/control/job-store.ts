/**
 * JobStore: the control-plane records of one job (state, assignments, progress, status), and the
 * guarded writes the chief and workers make to them. `EtcdJobStore` is the implementation.
 */
import type { Assignment, CheckpointPointer, DrainRequest, JobState, JobStatus, MigrationRecord, Progress, PsFault, TableRecord } from './job-types';

/** Everything the chief reconciles over, read at one etcd revision. */
export interface JobSnapshot {
  state: JobState | undefined;
  assignments: Map<number, Assignment>;
  progress: Map<number, Progress>;
  /** Every table's incarnation on every PS (absent until the chief has created the tables). */
  tables: TableRecord | undefined;
  /** Open PS faults reported by workers, by worker id. */
  faults: Map<string, PsFault>;
  /** The live resharding in progress (issue 17), if any. */
  migration: MigrationRecord | undefined;
  /** PS asked to drain, by member id. */
  drains: Map<string, DrainRequest>;
  revision: string;
}

/** `deltas/latest`: the newest version published for serving to follow. */
export interface DeltaPointer {
  /** Model name (the spec's name) under `root`. */
  name: string;
  /** The model root. */
  root: string;
  version: number;
  /** ISO-8601 time of the announcement. */
  at: string;
}

export interface JobStoreWatch {
  stop(): Promise<void>;
}

export interface JobStore {
  snapshot(): Promise<JobSnapshot>;
  /** Calls `onChange` after every change to state, assignments, progress, tables or faults after the call. */
  watch(onChange: () => void): Promise<JobStoreWatch>;

  // ---- chief only; with a leader guard each write fails with NOT_LEADER once leadership is gone
  /** Creates `state` if there is none; false if one exists. */
  createState(state: JobState): Promise<boolean>;
  putState(state: JobState): Promise<void>;
  /** Writes `state` and clears every assignment and progress record, in one transaction. */
  startEpoch(state: JobState): Promise<void>;
  /** Creates the assignment if the shard has none; false otherwise. */
  assign(a: Assignment): Promise<boolean>;
  /** Deletes the assignment if it is still exactly `a`; false otherwise. */
  revoke(a: Assignment): Promise<boolean>;
  putStatus(status: JobStatus): Promise<void>;
  putCheckpointPointer(p: CheckpointPointer): Promise<void>;
  /** Announces the newest version of the delta stream (`deltas/latest`), which serving watches. */
  putDeltaPointer(p: DeltaPointer): Promise<void>;
  /**
   * Replaces the job's state with a restored one: writes `state`, deletes every assignment and
   * progress record, then writes `progress` (the checkpoint's data positions).
   */
  restoreJob(state: JobState, progress: readonly Progress[]): Promise<void>;
  /** Publishes every table's incarnation on every PS. */
  putTables(record: TableRecord): Promise<void>;
  /** Deletes the fault reports of these workers (handled). */
  deleteFaults(workers: readonly string[]): Promise<void>;
  /** Writes `record` (phase `copy`) if no migration is recorded; false if one is. */
  createMigration(record: MigrationRecord): Promise<boolean>;
  /**
   * The commit point of a migration: in one transaction, publishes `record.to` as the shard map
   * (only if the stored map is still version `record.fromVersion`) and sets the record's phase to
   * `commit` (only if it is still exactly `record`). Throws STALE_SHARD_MAP when either changed.
   */
  commitMigration(record: MigrationRecord): Promise<void>;
  /** Deletes the migration record (finished or rolled back). */
  deleteMigration(): Promise<void>;
  /** Marks these drains done (their PS owns no bucket in the published map) and deletes `forget`. */
  settleDrains(done: readonly string[], forget: readonly string[]): Promise<void>;

  // ---- workers
  /**
   * Stores `p` if the shard is still assigned exactly as `a` (same worker incarnation and epoch);
   * false when it is not, and then nothing is written: the worker has lost the shard.
   */
  commitProgress(a: Assignment, p: Progress): Promise<boolean>;
  progress(shard: number): Promise<Progress | undefined>;
  /** Reports a PS that is not as the chief published it (replaces this worker's previous report). */
  reportFault(fault: PsFault): Promise<void>;

  // ---- anyone
  /** Records that PS `memberId` should drain; false when it was already asked to. */
  requestDrain(memberId: string): Promise<boolean>;
  /** Calls `onDrain` with PS `memberId`'s drain request (undefined: none) now and after every change (the PS itself). */
  watchDrain(memberId: string, onDrain: (d: DrainRequest | undefined) => void): Promise<JobStoreWatch>;
  status(): Promise<JobStatus | undefined>;
  checkpointPointer(): Promise<CheckpointPointer | undefined>;
}
