/**
 * The chief's side of a consistent checkpoint (docs/control-plane.md, "Checkpoints"):
 *
 *   1. raise the barrier: every live worker, at its next step boundary, waits for its pushes to
 *      be applied, commits its data position and acknowledges;
 *   2. once every live worker incarnation has acknowledged, cut every PS (Snapshot: copy-on-write
 *      armed, O(slabs)) and read the data positions and job state, which no one can change now;
 *   3. lower the barrier: training resumes while each PS writes its chunk files from the cut;
 *   4. when every PS is done, write the manifest (atomically, last), point `checkpoints/latest`
 *      at it, and collect old checkpoints.
 *
 * Free of transport: the PS side, the manifest files and the job store are passed in.
 */
import { join as joinPath } from 'node:path';
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { Logger } from '../common/logger';
import { Signal } from '../common/signal';
import type { JobStore } from '../control/job-store';
import type { JobState, Progress } from '../control/job-types';
import type { Membership } from '../membership/membership';

/**
 * How long the chief waits for every live worker to acknowledge the barrier. A worker acknowledges
 * at its next step boundary, after its pushes are applied and its position committed: well under
 * a second normally. Past this, the checkpoint is abandoned (UNAVAILABLE, the barrier lowered) and
 * training goes on, so one stuck worker cannot hold every other worker paused for long.
 */
export const DEFAULT_ACK_TIMEOUT_MS = 20_000;

/** What the manifest's `job` field holds: everything the chief needs to resume. */
export interface CheckpointJob {
  spec: { yaml: string; fingerprint: string };
  step: number;
  epoch: number;
  samples: number;
  state: JobState;
  progress: Progress[];
  pause_ms: number;
}

/** The PS and file operations a checkpoint needs (src/client and src/checkpoint provide them). */
export interface CheckpointBackend {
  /** Cuts every PS; resolves once every cut is taken. */
  cut(id: string, kind: 'full' | 'incremental', baseId: string | undefined): Promise<void>;
  /** Waits until every PS has written its files, then writes the manifest with `job`; returns its size in bytes. */
  finish(id: string, kind: 'full' | 'incremental', baseId: string | undefined, job: CheckpointJob): Promise<{ bytes: number }>;
  /** Removes checkpoints beyond the newest `keep`, never one a kept chain needs. */
  collect(keep: number): Promise<void>;
  newId(): string;
}

export interface CheckpointerDeps {
  store: JobStore;
  membership: Pick<Membership, 'list'>;
  backend: CheckpointBackend;
  root: string;
  spec: { yaml: string; fingerprint: string };
  logger: Logger;
  /** Checkpoints kept. Default 3. */
  keep?: number;
  /** A full checkpoint after this many incrementals. Default 4. */
  fullEvery?: number;
  /** Give up waiting for acknowledgements after this long, ms. Default {@link DEFAULT_ACK_TIMEOUT_MS} (20 s). */
  ackTimeoutMs?: number;
  now?: () => number;
  /** Told of every checkpoint written (metrics, the status page). */
  onWritten?: (o: CheckpointOutcome) => void;
}

export interface CheckpointOutcome {
  id: string;
  /** Directory of the checkpoint (root/id). */
  path: string;
  kind: 'full' | 'incremental';
  pauseMs: number;
  bytes: number;
  /** Global step and (0-based) epoch saved. */
  step: number;
  epoch: number;
  /** From raising the barrier to the manifest and pointer in place, seconds. */
  seconds: number;
  /** When it was complete, ms since the Unix epoch. */
  at: number;
}

export class Checkpointer {
  private last: string | undefined;
  private inFlight: Promise<CheckpointOutcome> | undefined;
  private sinceFull = 0;
  private readonly now: () => number;

  constructor(private readonly deps: CheckpointerDeps) {
    this.now = deps.now ?? Date.now;
  }

  /**
   * Takes a checkpoint. `jobAtCut` maps the state and progress read at the cut to what is saved
   * (e.g. the next epoch's state at an epoch end). `wake` is notified on every store change.
   */
  async take(wake: Signal, jobAtCut?: (state: JobState, progress: Progress[], id: string) => { state: JobState; progress: Progress[] },
    canCut?: () => boolean, verify?: () => Promise<boolean>): Promise<CheckpointOutcome> {
    return (await this.begin(wake, jobAtCut, canCut, verify)).written;
  }

  /**
   * Pauses, cuts and resumes; resolves as soon as training resumes, with `written`, which
   * settles once every PS has written its files and the manifest and pointer are in place. One
   * checkpoint at a time: a begin waits for the previous one to be written. `canCut` is asked
   * while waiting for the workers; `verify`, once, right before the cut (it may ask the PS).
   */
  async begin(wake: Signal, jobAtCut?: (state: JobState, progress: Progress[], id: string) => { state: JobState; progress: Progress[] },
    canCut: () => boolean = () => true, verify: () => Promise<boolean> = async () => true): Promise<{ id: string; pauseMs: number; written: Promise<CheckpointOutcome> }> {
    await this.inFlight?.catch(() => undefined);
    const { backend, logger } = this.deps;
    let id = backend.newId();
    let kind: 'full' | 'incremental' = this.last === undefined || this.sinceFull >= (this.deps.fullEvery ?? 4) ? 'full' : 'incremental';
    let base = kind === 'incremental' ? this.last : undefined;
    const raised = this.now();
    const cut = await this.pausedCut(id, wake, canCut, verify, async () => {
      try {
        await backend.cut(id, kind, base);
      } catch (err) {
        // A PS that restarted since the base cannot cut an incremental on it: take a full one.
        if (!(kind === 'incremental' && err instanceof TesseraError && err.code === ERROR_CODES.SNAPSHOT_CONFLICT)) throw err;
        logger.warn({ checkpoint: id, base, err: err.message }, 'incremental refused; taking a full checkpoint instead');
        id = backend.newId();
        kind = 'full';
        base = undefined;
        await backend.cut(id, kind, base);
      }
    });
    const progress = [...cut.snapshot.progress.values()].filter((p) => p.epoch === cut.snapshot.state.epoch);
    const saved = jobAtCut ? jobAtCut(cut.snapshot.state, progress, id) : { state: cut.snapshot.state, progress };
    const { pauseMs } = cut;
    logger.info({ checkpoint: id, kind, base, waitForAcksMs: cut.firstAck - raised, pauseMs, pause: cut.stages }, 'checkpoint cut taken; training resumed');
    const written = this.write(id, kind, base, saved, pauseMs, raised);
    this.inFlight = written;
    written.catch(() => undefined); // the caller awaits it or logs it; never unhandled
    return { id, pauseMs, written };
  }

  /**
   * Raises the barrier `id`, waits for every live worker's acknowledgement, runs `cut` while they
   * all stand still, reads the job state (which no one can change now) and lowers the barrier,
   * whatever happened. The pause of every consistent cut: checkpoints and deltas.
   */
  private async pausedCut(id: string, wake: Signal, canCut: () => boolean, verify: () => Promise<boolean>, cut: () => Promise<void>): Promise<PausedCut> {
    const { store } = this.deps;
    await store.putBarrier({ id, phase: 'pause' });
    let cutAt: number;
    let firstAck: number;
    let snapshot: PausedCut['snapshot'];
    const at = { acked: 0, verified: 0, read: 0, done: 0 };
    try {
      firstAck = await this.awaitAcks(id, wake, canCut);
      at.acked = this.now();
      // A PS that restarted empty (or lost a table) and is not restored yet would put a hole in
      // the cut, and the next restore (or a serving replica) would load the hole.
      if (!canCut() || !(await verify()) || !canCut()) throw abandoned(id);
      at.verified = this.now();
      // The PS cuts and the read of the positions and job state run together: no worker can
      // change either while every worker stands still, so their order does not matter, and the
      // pause is the longer of the two rather than their sum.
      const [snap, cutDone] = await Promise.all([
        store.snapshot().then((r) => { at.read = this.now(); return r; }),
        cut().then(() => this.now()),
      ]);
      cutAt = cutDone;
      at.done = this.now();
      if (!snap.state) throw new TesseraError(ERROR_CODES.INTERNAL, 'no job state at the checkpoint cut');
      snapshot = { state: snap.state, progress: snap.progress };
    } finally {
      await store.putBarrier({ id, phase: 'resume' });
    }
    const resumed = this.now();
    const stages = { acksMs: at.acked - firstAck, verifyMs: at.verified - at.acked, cutMs: cutAt - at.verified, readMs: at.read - at.verified, resumeMs: resumed - at.done };
    return { firstAck, cutAt, resumed, pauseMs: resumed - Math.min(firstAck, resumed), stages, snapshot };
  }

  /**
   * A consistent cut for another consumer than a checkpoint (the delta publisher): pauses
   * training exactly as a checkpoint does, one at a time with checkpoints, and runs `cut` while
   * every worker stands still. Resolves once training resumed, with the pause (the barrier's
   * span from the first acknowledgement to the barrier lowered), where it went, and the job's
   * step and samples at the cut.
   */
  async cutOnly(id: string, wake: Signal, cut: () => Promise<void>, canCut: () => boolean = () => true,
    verify: () => Promise<boolean> = async () => true): Promise<{ pauseMs: number; pause: PauseStages; cutAt: number; step: number; samples: number }> {
    await this.inFlight?.catch(() => undefined);
    const c = await this.pausedCut(id, wake, canCut, verify, cut);
    const { step, samples } = totalsAt(c.snapshot.state, [...c.snapshot.progress.values()].filter((p) => p.epoch === c.snapshot.state.epoch));
    return { pauseMs: c.pauseMs, pause: c.stages, cutAt: c.cutAt, step, samples };
  }

  private async write(id: string, kind: 'full' | 'incremental', base: string | undefined, saved: { state: JobState; progress: Progress[] }, pauseMs: number, raised: number): Promise<CheckpointOutcome> {
    const { store, backend, logger } = this.deps;
    const { state, progress } = saved;
    const { samples, step } = totalsAt(state, progress);
    const job: CheckpointJob = { spec: this.deps.spec, step, epoch: state.epoch, samples, state, progress, pause_ms: pauseMs };
    const { bytes } = await backend.finish(id, kind, base, job);
    await store.putCheckpointPointer({ id, root: this.deps.root, step, epoch: state.epoch, at: new Date(this.now()).toISOString() });
    this.last = id;
    this.sinceFull = kind === 'full' ? 0 : this.sinceFull + 1;
    await backend.collect(this.deps.keep ?? 3).catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'checkpoint garbage collection failed'));
    logger.info({ checkpoint: id, kind, step, bytes, pauseMs }, 'checkpoint written');
    const at = this.now();
    const outcome: CheckpointOutcome = { id, path: joinPath(this.deps.root, id), kind, pauseMs, bytes, step, epoch: state.epoch, seconds: (at - raised) / 1000, at };
    this.deps.onWritten?.(outcome);
    return outcome;
  }

  /** Resolves once no checkpoint is being written (whether it succeeds or fails). */
  async settled(): Promise<void> {
    await this.inFlight?.catch(() => undefined);
  }

  /** Continues a chain after a restart or restore: the next checkpoint is incremental on `id`. */
  continueFrom(id: string): void {
    this.last = id;
    this.sinceFull = 1;
  }

  /** Waits until every live worker incarnation acknowledged `id`; returns the first ack's time. */
  private async awaitAcks(id: string, wake: Signal, canCut: () => boolean): Promise<number> {
    const timeoutMs = this.deps.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS;
    const deadline = this.now() + timeoutMs;
    for (;;) {
      if (!canCut()) throw abandoned(id);
      const [workers, acks] = await Promise.all([this.deps.membership.list('worker'), this.deps.store.acks()]);
      const mine = acks.filter((a) => a.id === id);
      const missing = workers.filter((w) => !mine.some((a) => a.worker === w.id && a.incarnation === w.incarnation));
      if (missing.length === 0) return mine.length ? Math.min(...mine.map((a) => a.at)) : this.now();
      if (this.now() > deadline) {
        throw new TesseraError(ERROR_CODES.UNAVAILABLE, `checkpoint ${id}: workers ${missing.map((w) => w.id).join(', ')} did not pause within ${timeoutMs} ms`);
      }
      await wake.wait(200);
    }
  }
}

/** What `pausedCut` found. */
interface PausedCut {
  firstAck: number;
  cutAt: number;
  resumed: number;
  pauseMs: number;
  stages: PauseStages;
  snapshot: { state: JobState; progress: ReadonlyMap<number, Progress> };
}

/**
 * Where a pause went, ms: from the first worker's acknowledgement to the last one seen
 * (`acksMs`), the check of the PS (`verifyMs`), the PS cuts (`cutMs`) and, at the same time, the
 * read of the job state and positions (`readMs`), and the write that lowers the barrier (`resumeMs`).
 */
export interface PauseStages { acksMs: number; verifyMs: number; cutMs: number; readMs: number; resumeMs: number }

/** The job's step and samples trained at a cut. */
function totalsAt(state: JobState, progress: Progress[]): { step: number; samples: number } {
  const training = state.phase === 'train';
  return {
    samples: state.samplesBefore + (training ? progress.reduce((n, p) => n + p.rows, 0) : 0),
    step: state.stepsBefore + (training ? progress.reduce((n, p) => n + p.steps, 0) : 0),
  };
}

function abandoned(id: string): TesseraError {
  return new TesseraError(ERROR_CODES.UNAVAILABLE, `checkpoint ${id} abandoned: the parameter servers changed (one restarted); recovering them first`);
}

/** The chief's record inside a manifest (`job`), checked enough to resume from. */
export function checkpointJobOf(manifest: { id: string; job: unknown }): CheckpointJob {
  const j = manifest.job as Partial<CheckpointJob> | null;
  if (!j || typeof j !== 'object' || !j.spec || typeof j.spec.yaml !== 'string' || !j.state || !Array.isArray(j.progress)) {
    throw new TesseraError(ERROR_CODES.CHECKPOINT_CORRUPT, `checkpoint ${manifest.id}: its manifest has no job record (spec, state, data positions) to resume from; it was not written by a chief`);
  }
  return j as CheckpointJob;
}
