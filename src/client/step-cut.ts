/**
 * The caller's half of a cut at per-worker step numbers (ADR 0040), run by the chief over every
 * PS without stopping any worker at a step boundary (the PS's half is src/ps/cut-hold.ts):
 *
 *   1. `prepare` on every PS: each holds arriving pushes and answers, per worker (its step id,
 *      StepTag.client), the highest step it applied and the data positions that step carried;
 *   2. per worker, `s_w` = the highest step over every PS, with that answer's positions; step ids
 *      that `choose` leaves out (a dead worker, an old process of a restarted worker, a renewed
 *      step id) are not waited for: their pushes applied so far are in the cut and their positions
 *      are the ones they committed, the at-least-once rule for a worker that dies between a push
 *      and its commit. `choose` runs while every PS holds, so what it reads (who is live, the
 *      committed positions) cannot move past the cut;
 *   3. `cutAt` on every PS with the steps; each applies exactly the steps <= s_w, cuts, releases.
 *      The steps `choose` names acknowledged (the worker committed positions past s_w, which it
 *      does only once every push before was answered) are complete on every PS, heard of or
 *      not: a PS that started after them (restarted, or joined) would otherwise wait for pushes
 *      that went to its previous incarnation, or nowhere.
 *
 * Any failure (a PS restarted between the rounds, a worker's step missing past the wait, a PS
 * refusing) releases every PS's hold and rejects: the cut is abandoned, as a barrier that times
 * out is today, and a PS that did cut holds a snapshot no manifest will name.
 *
 * ```ts
 * const cut = await cutAtSteps(parties, 'd-12', { holdMs: 2_000, waitMs: 1_000, choose: async (best) => liveOnes(best) });
 * cut.positions.get(client);   // the worker's positions at the cut
 * ```
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { AppliedStep } from '../ps/step-ledger';

/** One PS as the cut sees it (the admin RPCs, or an in-process CutHold). */
export interface StepCutParty {
  /** Round 1: hold pushes; per worker step id, the highest step applied and its positions. */
  prepare(id: string, holdMs: number): Promise<Map<bigint, AppliedStep>>;
  /** Round 2: cut at these steps (see CutHold.cutAt); `acknowledged` as StepCut's. */
  cutAt(id: string, steps: ReadonlyMap<bigint, number>, waitMs: number, acknowledged?: ReadonlySet<bigint>): Promise<void>;
  /** Ends the hold of an abandoned cut (false-y outcome ignored: the PS's own deadline ends it too). */
  release(id: string, reason: string): Promise<unknown>;
}

export interface StepCutOptions {
  /** How long a PS holds pushes waiting for round 2 before releasing them on its own, ms. */
  holdMs: number;
  /** How long a PS waits for the pushes of the steps in the cut, ms. */
  waitMs: number;
  /**
   * Between the rounds, while every PS holds: the step ids the cut waits for, of round 1's
   * highest steps (positions decoded by the caller), and which of them are acknowledged.
   * Default: all of them, none acknowledged.
   */
  choose?: (best: ReadonlyMap<bigint, AppliedStep>) => ChosenSteps | Promise<ChosenSteps>;
}

/** The step ids a cut waits for, and those whose every push up to the step was answered. */
export interface ChosenSteps {
  counted: Iterable<bigint>;
  acknowledged?: Iterable<bigint>;
}

/** The steps a cut was taken at and, per worker step id, the positions after its step. */
export interface StepCut {
  steps: Map<bigint, number>;
  positions: Map<bigint, Uint8Array>;
  /** Step ids whose every push up to their step was answered (ChosenSteps.acknowledged). */
  acknowledged: Set<bigint>;
}

/** Round 1's answers → per client the highest step over every PS, with its positions. */
export function highestSteps(answers: readonly ReadonlyMap<bigint, AppliedStep>[]): Map<bigint, AppliedStep> {
  const best = new Map<bigint, AppliedStep>();
  for (const a of answers) {
    for (const [client, s] of a) {
      const b = best.get(client);
      if (!b || s.step > b.step) best.set(client, s);
    }
  }
  return best;
}

/** The steps to cut at: the chosen clients' highest steps, with their positions. */
export function stepsToCut(best: ReadonlyMap<bigint, AppliedStep>, chosen: ChosenSteps = { counted: best.keys() }): StepCut {
  const cut: StepCut = { steps: new Map(), positions: new Map(), acknowledged: new Set() };
  for (const client of chosen.counted) {
    const s = best.get(client);
    if (!s) continue;
    cut.steps.set(client, s.step);
    cut.positions.set(client, s.positions);
  }
  for (const client of chosen.acknowledged ?? []) if (cut.steps.has(client)) cut.acknowledged.add(client);
  return cut;
}

/** Runs both rounds on every PS (see the file comment); rejects, every hold released, on any failure. */
export async function cutAtSteps(parties: readonly StepCutParty[], id: string, opts: StepCutOptions): Promise<StepCut> {
  const settled = <T>(ps: Promise<T>[]): Promise<T[]> => Promise.allSettled(ps).then((rs) => {
    const failed = rs.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return rs.map((r) => (r as PromiseFulfilledResult<T>).value);
  });
  try {
    // Every PS must hold before any is told where to cut, so both rounds wait for all.
    const answers = await settled(parties.map((p) => p.prepare(id, opts.holdMs))).catch((err: unknown) => {
      // Another cut holds (a previous chief's, until its hold deadline): a later cut succeeds.
      // Only round 2's conflict (an incremental's base the PS does not have) is left as it is.
      if (!(err instanceof TesseraError && err.code === ERROR_CODES.SNAPSHOT_CONFLICT)) throw err;
      throw new TesseraError(ERROR_CODES.UNAVAILABLE, `cut ${id}: ${err.message}`);
    });
    const best = highestSteps(answers);
    const cut = stepsToCut(best, opts.choose ? await opts.choose(best) : undefined);
    await settled(parties.map((p) => p.cutAt(id, cut.steps, opts.waitMs, cut.acknowledged)));
    return cut;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    await Promise.allSettled(parties.map((p) => p.release(id, `abandoned: ${reason}`)));
    throw err instanceof TesseraError ? err : new TesseraError(ERROR_CODES.UNAVAILABLE, `cut ${id} abandoned: ${reason}`);
  }
}
