/**
 * The PS process's snapshots: Snapshot takes the cut at once and writes the files in the
 * background; SnapshotStatus reports WRITING, DONE (with the file entries) or FAILED (with the
 * error). The last few are remembered so the chief can poll after the fact.
 */
import { ERROR_CODES, TesseraError } from '../../common/errors';
import type { Logger } from '../../common/logger';
import type { PsNode } from '../ps-node';
import type { TableSpec } from '../store/table-spec';
import type { CheckpointFileEntry } from '../../checkpoint/manifest';
import { writeSnapshot } from './snapshot-writer';

/** Snapshots remembered for SnapshotStatus. */
const REMEMBERED = 32;

/** Where a snapshot's background write stands. */
export type SnapshotState = 'WRITING' | 'DONE' | 'FAILED';

/** One snapshot as SnapshotStatus reports it: its state, and once DONE its files and tables. */
export interface SnapshotJobStatus {
  state: SnapshotState;
  files: CheckpointFileEntry[];
  error: string;
  tables: TableSpec[];
  numBuckets: number;
  shardMapVersion: number;
  copiedSlabs: number;
}

/** Which snapshot to start: checkpoint id, root directory, kind and base, this PS's stable id. */
export interface SnapshotStart {
  id: string;
  root: string;
  kind: 'full' | 'incremental';
  baseId?: string;
  psId: number;
}

/** Background snapshot writes of one PS. */
export class SnapshotJobs {
  private readonly jobs = new Map<string, SnapshotJobStatus>();
  private readonly log: Logger;

  constructor(private readonly node: PsNode, logger: Logger) {
    this.log = logger.child({ component: 'snapshot-jobs' });
  }

  /**
   * Takes the cut now and starts writing; resolves nothing (the write's end shows in `status`).
   * Throws (nothing started) when the cut is refused.
   */
  start(req: SnapshotStart): { cutRows: number; cutMicros: number; written: Promise<void> } {
    if (typeof req.root !== 'string' || req.root === '') throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, 'dir: the checkpoint root directory is required');
    if (this.jobs.get(req.id)?.state === 'DONE') {
      throw new TesseraError(ERROR_CODES.SNAPSHOT_CONFLICT, `checkpoint_id: "${req.id}" was already written by this PS`);
    }
    const cursor = this.node.beginSnapshot({ id: req.id, kind: req.kind, baseId: req.baseId });
    const { cut } = cursor;
    const job: SnapshotJobStatus = {
      state: 'WRITING', files: [], error: '', tables: cut.tables, numBuckets: cut.numBuckets, shardMapVersion: cut.shardMapVersion, copiedSlabs: 0,
    };
    this.remember(req.id, job);
    const t0 = performance.now();
    // Start writing on the next turn of the event loop, so the Snapshot answer goes out first
    // (the write's synchronous slab encoding would otherwise delay it).
    const written = new Promise<void>((r) => setImmediate(r)).then(() => writeSnapshot(cursor, { root: req.root, psId: req.psId })).then((files) => {
      job.files = files;
      job.copiedSlabs = cursor.copyStats().copiedSlabs;
      job.state = 'DONE';
      this.log.info({ id: req.id, files: files.length, bytes: files.reduce((s, f) => s + f.bytes, 0), ms: Math.round(performance.now() - t0), ...cursor.copyStats() }, 'snapshot written');
    }, (err: unknown) => {
      job.state = 'FAILED';
      job.error = err instanceof Error ? err.message : String(err);
      this.log.error({ id: req.id, err: job.error }, 'snapshot write failed');
    });
    return { cutRows: cut.cutRows, cutMicros: cut.cutMicros, written };
  }

  /** The status of snapshot `id`; CHECKPOINT_NOT_FOUND when this PS has no record of it. */
  status(id: string): SnapshotJobStatus {
    const job = this.jobs.get(id);
    if (!job) throw new TesseraError(ERROR_CODES.CHECKPOINT_NOT_FOUND, `checkpoint_id: no snapshot "${id}" on this PS (never started, or the PS restarted)`);
    return job;
  }

  private remember(id: string, job: SnapshotJobStatus): void {
    this.jobs.delete(id);
    this.jobs.set(id, job);
    while (this.jobs.size > REMEMBERED) this.jobs.delete(this.jobs.keys().next().value as string);
  }
}
