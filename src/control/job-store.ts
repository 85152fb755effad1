/**
 * JobStore: the control-plane records of one job (state, assignments, progress, status), and the
 * guarded writes the chief and workers make to them. `EtcdJobStore` is the implementation.
 */
import type { Assignment, Barrier, BarrierAck, CheckpointPointer, JobState, JobStatus, Progress, PsFault, TableRecord } from './job-types';

/** Everything the chief reconciles over, read at one etcd revision. */
export interface JobSnapshot {
  state: JobState | undefined;
  assignments: Map<number, Assignment>;
  progress: Map<number, Progress>;
  /** Every table's incarnation on every PS (absent until the chief has created the tables). */
  tables: TableRecord | undefined;
  /** Open PS faults reported by workers, by worker id. */
  faults: Map<string, PsFault>;
  revision: string;
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
  /** Raises or lowers the checkpoint barrier. */
  putBarrier(b: Barrier): Promise<void>;
  putCheckpointPointer(p: CheckpointPointer): Promise<void>;
  /**
   * Replaces the job's state with a restored one: writes `state`, deletes every assignment and
   * progress record and the barrier, then writes `progress` (the checkpoint's data positions).
   */
  restoreJob(state: JobState, progress: readonly Progress[]): Promise<void>;
  /** Publishes every table's incarnation on every PS. */
  putTables(record: TableRecord): Promise<void>;
  /** Deletes the fault reports of these workers (handled). */
  deleteFaults(workers: readonly string[]): Promise<void>;

  // ---- workers
  /**
   * Stores `p` if the shard is still assigned exactly as `a` (same worker incarnation and epoch);
   * false when it is not, and then nothing is written: the worker has lost the shard.
   */
  commitProgress(a: Assignment, p: Progress): Promise<boolean>;
  progress(shard: number): Promise<Progress | undefined>;
  ackBarrier(ack: BarrierAck): Promise<void>;
  /** Reports a PS that is not as the chief published it (replaces this worker's previous report). */
  reportFault(fault: PsFault): Promise<void>;
  /** Calls `onBarrier` with the current barrier (undefined: none) and every change after it. */
  watchBarrier(onBarrier: (b: Barrier | undefined) => void): Promise<JobStoreWatch>;

  // ---- anyone
  status(): Promise<JobStatus | undefined>;
  acks(): Promise<BarrierAck[]>;
  barrier(): Promise<Barrier | undefined>;
  checkpointPointer(): Promise<CheckpointPointer | undefined>;
}
