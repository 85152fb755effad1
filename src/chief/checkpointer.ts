/**
 * The chief's side of a consistent checkpoint (docs/control-plane.md, "Checkpoints"), a cut at
 * per-worker step numbers (ADR 0040) that stops no worker:
 *
 *   1. every PS holds the pushes that arrive and answers, per worker step id, the highest step it
 *      applied with that step's data positions (round 1, src/client/step-cut.ts);
 *   2. while they hold, the chief reads who is live, the job state and the committed positions,
 *      none of which a held push can move, and chooses the step ids to cut at (`countedSteps`);
 *   3. each PS applies exactly the pushes of steps <= s_w, cuts (copy-on-write armed, O(slabs))
 *      and applies what it still holds (round 2): training never stood still, and a push waited
 *      at most from round 1 to its PS's cut;
 *   4. when every PS has written its chunk files from the cut, write the manifest (atomically,
 *      last) with the positions at the cut (`positionsAtCut`), point `checkpoints/latest` at it,
 *      and collect old checkpoints.
 *
 * Free of transport: the PS side, the manifest files and the job store are passed in.
 */
import { join as joinPath } from 'node:path';
import * as stepCut from '../client/step-cut';
import type { StepCutParty } from '../client/step-cut';
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { Logger } from '../common/logger';
import type { JobStore } from '../control/job-store';
import type { JobState, Progress } from '../control/job-types';
import type { Membership } from '../membership/membership';
import { acknowledgedSteps, countedSteps, positionsAtCut } from './cut-positions';

/**
 * How long a PS holds pushes after round 1 waiting for round 2, ms. Past it the PS releases them
 * on its own: a chief that dies between the rounds holds training back at most this long.
 */
export const DEFAULT_CUT_HOLD_MS = 5_000;
/**
 * How long a PS waits in round 2 for the pushes of the steps in the cut, ms. A worker that died
 * with a push of such a step in flight makes the cut fail after this (every hold released, the
 * cut abandoned, training going on); the next cut leaves the dead worker out.
 */
export const DEFAULT_CUT_WAIT_MS = 5_000;

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

/** Full or incremental on a base: the kind of cut every PS takes. */
export type CutKind = 'full' | 'incremental';

/** The PS and file operations a checkpoint needs (src/client and src/checkpoint provide them). */
export interface CheckpointBackend {
  /** Every PS as a party to cut `id`; its round 2 takes checkpoint `id`'s snapshot. */
  parties(id: string, kind: CutKind, baseId: string | undefined): StepCutParty[];
  /** Waits until every PS has written its files, then writes the manifest with `job`; returns its size in bytes. */
  finish(id: string, kind: CutKind, baseId: string | undefined, job: CheckpointJob): Promise<{ bytes: number }>;
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
  /** See {@link DEFAULT_CUT_HOLD_MS}. */
  cutHoldMs?: number;
  /** See {@link DEFAULT_CUT_WAIT_MS}. */
  cutWaitMs?: number;
  now?: () => number;
  /** Told of every checkpoint written (metrics, the status page). */
  onWritten?: (o: CheckpointOutcome) => void;
}

export interface CheckpointOutcome {
  id: string;
  /** Directory of the checkpoint (root/id). */
  path: string;
  kind: CutKind;
  pauseMs: number;
  bytes: number;
  /** Global step and (0-based) epoch saved. */
  step: number;
  epoch: number;
  /** From the start of the cut to the manifest and pointer in place, seconds. */
  seconds: number;
  /** When it was complete, ms since the Unix epoch. */
  at: number;
}

/** Maps the state and positions at the cut to what is saved (e.g. the next epoch's state at an epoch end). */
export type JobAtCut = (state: JobState, progress: Progress[], id: string) => { state: JobState; progress: Progress[] };

/** One cut to take: the first try's id and kind, and what the PS are (`parties`, per try). */
export interface CutRequest {
  id: string;
  kind: CutKind;
  base: string | undefined;
  parties: (id: string, kind: CutKind, base: string | undefined) => StepCutParty[];
  /** A new id, for a full cut taken instead of an incremental a PS refused (it restarted since the base). */
  newId: () => string;
}

/** A cut taken: its id and kind (full if the incremental was refused), pause and positions. */
export interface TakenCut {
  id: string;
  kind: CutKind;
  /** From round 1 sent to round 2 done: the longest any push was held, ms. */
  pauseMs: number;
  pause: PauseStages;
  /** When every PS had cut, ms since the Unix epoch. */
  cutAt: number;
  state: JobState;
  /** The positions at the cut of the current epoch's shards. */
  progress: Progress[];
}

export class Checkpointer {
  private last: string | undefined;
  private inFlight: Promise<CheckpointOutcome> | undefined;
  private sinceFull = 0;
  private readonly now: () => number;

  constructor(private readonly deps: CheckpointerDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Takes a checkpoint (see `begin`) and resolves once it is written. */
  async take(jobAtCut?: JobAtCut, canCut?: () => boolean, verify?: () => Promise<boolean>): Promise<CheckpointOutcome> {
    return (await this.begin(jobAtCut, canCut, verify)).written;
  }

  /**
   * Cuts; resolves as soon as the cut is taken, with `written`, which settles once every PS has
   * written its files and the manifest and pointer are in place. One checkpoint at a time: a
   * begin waits for the previous one to be written. `canCut` and `verify` (which may ask the PS)
   * are asked right before the cut, and `canCut` again between its rounds.
   */
  async begin(jobAtCut?: JobAtCut, canCut: () => boolean = () => true, verify: () => Promise<boolean> = async () => true): Promise<{ id: string; pauseMs: number; written: Promise<CheckpointOutcome> }> {
    await this.inFlight?.catch(() => undefined);
    const { backend, logger } = this.deps;
    const kind: CutKind = this.last === undefined || this.sinceFull >= (this.deps.fullEvery ?? 4) ? 'full' : 'incremental';
    const started = this.now();
    const cut = await this.cutAtSteps({
      id: backend.newId(), kind, base: kind === 'incremental' ? this.last : undefined, newId: () => backend.newId(),
      parties: (id, k, base) => backend.parties(id, k, base),
    }, canCut, verify);
    const { id, pauseMs } = cut;
    const base = cut.kind === 'incremental' ? this.last : undefined;
    const saved = jobAtCut ? jobAtCut(cut.state, cut.progress, id) : { state: cut.state, progress: cut.progress };
    logger.info({ checkpoint: id, kind: cut.kind, base, pauseMs, pause: cut.pause }, 'checkpoint cut taken');
    const written = this.write(id, cut.kind, base, saved, pauseMs, started);
    this.inFlight = written;
    written.catch(() => undefined); // the caller awaits it or logs it; never unhandled
    return { id, pauseMs, written };
  }

  /**
   * A consistent cut for another consumer than a checkpoint (the delta publisher), one at a time
   * with checkpoints; resolves once every PS has cut, with the cut's id, kind, pause (and where
   * it went), and the job's step and samples at the cut.
   */
  async cutOnly(req: CutRequest, canCut: () => boolean = () => true, verify: () => Promise<boolean> = async () => true): Promise<TakenCut & { step: number; samples: number }> {
    await this.inFlight?.catch(() => undefined);
    const c = await this.cutAtSteps(req, canCut, verify);
    return { ...c, ...totalsAt(c.state, c.progress) };
  }

  /**
   * The cut of every checkpoint and delta (see the file comment); a full one instead when a PS
   * refuses the incremental (it restarted since the base). Abandoned (every hold released,
   * UNAVAILABLE) when the PS changed, a counted worker's step did not arrive, or a PS failed.
   */
  private async cutAtSteps(req: CutRequest, canCut: () => boolean, verify: () => Promise<boolean>): Promise<TakenCut> {
    try {
      return await this.cutOnce(req.id, req.kind, req.base, req.parties, canCut, verify);
    } catch (err) {
      if (!(req.kind === 'incremental' && err instanceof TesseraError && err.code === ERROR_CODES.SNAPSHOT_CONFLICT)) throw err;
      const id = req.newId();
      this.deps.logger.warn({ cut: req.id, base: req.base, err: err.message, instead: id }, 'incremental cut refused; taking a full one instead');
      return this.cutOnce(id, 'full', undefined, req.parties, canCut, verify);
    }
  }

  private async cutOnce(id: string, kind: CutKind, base: string | undefined, parties: CutRequest['parties'], canCut: () => boolean, verify: () => Promise<boolean>): Promise<TakenCut> {
    const { store, membership } = this.deps;
    // A PS that restarted empty (or lost a table) and is not restored yet would put a hole in
    // the cut, and the next restore (or a serving replica) would load the hole.
    if (!canCut() || !(await verify()) || !canCut()) throw abandoned(id);
    const at = { start: this.now(), prepared: 0, read: 0 };
    let read: { state: JobState; progress: ReadonlyMap<number, Progress> } | undefined;
    const cut = await stepCut.cutAtSteps(parties(id, kind, base), id, {
      holdMs: this.deps.cutHoldMs ?? DEFAULT_CUT_HOLD_MS,
      waitMs: this.deps.cutWaitMs ?? DEFAULT_CUT_WAIT_MS,
      choose: async (best) => {
        at.prepared = this.now();
        // Every PS holds: no push is answered, so no worker commits past the cut meanwhile.
        const [snap, live] = await Promise.all([store.snapshot(), membership.list('worker')]);
        at.read = this.now();
        if (!canCut()) throw abandoned(id);
        if (!snap.state) throw new TesseraError(ERROR_CODES.INTERNAL, 'no job state at the cut');
        read = { state: snap.state, progress: snap.progress };
        const counted = countedSteps(best, live);
        return { counted, acknowledged: acknowledgedSteps(best, counted, snap.progress) };
      },
    });
    const done = this.now();
    const { state, progress } = read!;
    const pause: PauseStages = { prepareMs: at.prepared - at.start, readMs: at.read - at.prepared, cutMs: done - at.read };
    const atCut = [...positionsAtCut(progress, cut.positions).values()].filter((p) => p.epoch === state.epoch);
    return { id, kind, pauseMs: done - at.start, pause, cutAt: done, state, progress: atCut };
  }

  private async write(id: string, kind: CutKind, base: string | undefined, saved: { state: JobState; progress: Progress[] }, pauseMs: number, started: number): Promise<CheckpointOutcome> {
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
    const outcome: CheckpointOutcome = { id, path: joinPath(this.deps.root, id), kind, pauseMs, bytes, step, epoch: state.epoch, seconds: (at - started) / 1000, at };
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
}

/**
 * Where a cut's pause went, ms: round 1 on every PS (`prepareMs`), the read of who is live, the
 * job state and the committed positions while every PS holds (`readMs`), and round 2 (`cutMs`).
 */
export interface PauseStages { prepareMs: number; readMs: number; cutMs: number }

/** The job's step and samples trained at a cut. */
function totalsAt(state: JobState, progress: Progress[]): { step: number; samples: number } {
  const training = state.phase === 'train';
  return {
    samples: state.samplesBefore + (training ? progress.reduce((n, p) => n + p.rows, 0) : 0),
    step: state.stepsBefore + (training ? progress.reduce((n, p) => n + p.steps, 0) : 0),
  };
}

function abandoned(id: string): TesseraError {
  return new TesseraError(ERROR_CODES.UNAVAILABLE, `cut ${id} abandoned: the parameter servers changed (one restarted, or buckets are moving); recovering them first`);
}

/** The chief's record inside a manifest (`job`), checked enough to resume from. */
export function checkpointJobOf(manifest: { id: string; job: unknown }): CheckpointJob {
  const j = manifest.job as Partial<CheckpointJob> | null;
  if (!j || typeof j !== 'object' || !j.spec || typeof j.spec.yaml !== 'string' || !j.state || !Array.isArray(j.progress)) {
    throw new TesseraError(ERROR_CODES.CHECKPOINT_CORRUPT, `checkpoint ${manifest.id}: its manifest has no job record (spec, state, data positions) to resume from; it was not written by a chief`);
  }
  return j as CheckpointJob;
}
