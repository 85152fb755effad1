/**
 * A worker's training steps as the PS see them, for a cut at per-worker step numbers (ADR 0040):
 * a random 64-bit step id drawn once per process (and once per data thread, which numbers its
 * own steps), step numbers 1, 2, 3, … running on across shard maps (unlike the idempotent-push client id, which a PsFleet draws anew), and
 * `ackedThrough`, the highest step whose every push, to every PS, has been answered. The data
 * client (`pushStep`) builds each push's StepTag from it; the worker says what the data positions
 * are once a step is trained (`positions`), and the chief reads them back from the PS.
 *
 * ```ts
 * const steps = new StepNumbering();
 * const s = steps.begin();            // the step being pushed
 * // … every push of step s tagged { client: steps.id, step: s, ackedThrough: steps.ackedThrough, … }
 * steps.answered(s);                  // once all of them are answered
 * ```
 */
import { randomNonzeroId } from '../common/random-id';

/** Step numbers and their acknowledgement, for one worker process. */
export class StepNumbering {
  /** Random, nonzero (0 means "untagged" on the wire); a new one after `renew`. */
  id: bigint;
  private last = 0;
  private acked = 0;
  /** Steps above `acked` already answered, waiting for an earlier one. */
  private readonly early = new Set<number>();

  /**
   * @param positions the worker's data positions once the step being pushed is trained (opaque
   *   bytes the chief decodes); default none.
   */
  constructor(readonly positions: () => Uint8Array = () => EMPTY) {
    this.id = randomNonzeroId();
  }

  /** The number of the next step; call once per step, before its first push. */
  begin(): number {
    return ++this.last;
  }

  /** The highest step whose every push, to every PS, has been answered (0: none). */
  get ackedThrough(): number {
    return this.acked;
  }

  /**
   * Starts over under a fresh step id, from step 1: after a step whose push failed. That step may
   * never be complete on some PS (or be applied there late), and every later step of the same id
   * would wait behind it; the worker retries its data from its last commit anyway, so its steps
   * under the old id end with the failed one. Steps already sealed keep the id they were sealed with.
   */
  renew(): void {
    this.id = randomNonzeroId();
    this.last = 0;
    this.acked = 0;
    this.early.clear();
  }

  /** Records that every push of `step` has been answered. */
  answered(step: number): void {
    if (step <= this.acked) return;
    this.early.add(step);
    while (this.early.delete(this.acked + 1)) this.acked++;
  }
}

const EMPTY = new Uint8Array(0);
