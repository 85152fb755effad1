/**
 * The PS's half of a cut at per-worker step numbers (ADR 0040), which the chief runs in two
 * rounds without stopping workers at their step boundaries:
 *
 *   1. `prepare(id)`: from now on arriving pushes are held (queued, neither applied nor
 *      answered); the answer is, per worker, the highest step with a push applied here and the
 *      data positions that push carried (every push of a step carries the same ones).
 *   2. The chief takes, per worker, `s_w` = the highest over every PS, and sends `cutAt(id, s)`:
 *      the held pushes of steps <= s_w are applied (in arrival order), pushes of those steps
 *      still on their way are applied as they arrive, and once every listed worker's steps
 *      <= s_w are complete here (StepLedger) the cut is taken (`cut()`, the PS's copy-on-write
 *      snapshot), and every push still held is applied in arrival order.
 *
 * So on every PS the cut holds exactly the pushes of each listed worker's steps <= s_w, and the
 * positions round 1 returned with s_w (from a PS that had applied it) are the positions after
 * step s_w: the same instant everywhere. A worker's
 * push waits only while it is held, about two chief round trips, not for another worker's step.
 *
 * Every hold ends: `prepare`'s hold is released if no `cutAt` follows within `holdMs` (the chief
 * died or gave up), and `cutAt` fails and releases everything if the steps are not complete
 * within `waitMs` (a worker died with a push in flight) or a listed worker's push of a step
 * <= s_w was refused here (it may have been re-sent to another PS, which could not know to wait
 * for it). A failed cut is abandoned by the chief, which tells every PS to `release`.
 *
 * Only tagged pushes are held. An untagged push (a client that numbers no steps: Python, tools)
 * carries no positions for a cut to match, so it is applied at once, hold or not, and the cut
 * has whatever of it was applied before the snapshot.
 *
 * Free of transport: each push comes with a `run` that applies and answers it.
 *
 * ```ts
 * const hold = new CutHold({ logger });
 * hold.offer(tag, () => applyAndAnswer(req));          // every push not answered by dedup
 * const highest = hold.prepare('d-12', 2_000);         // chief round 1
 * const cursor = await hold.cutAt('d-12', steps, 1_000, () => node.beginSnapshot(o));
 * ```
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { Logger } from '../common/logger';
import type { StepTag } from '../wire/step-tag';
import { type AppliedStep, StepLedger } from './step-ledger';

/**
 * Applies a push and answers it: 'applied', 'refused' (nothing applied; the refusal was
 * answered), or 'duplicate' (a retry of a push applied already, acknowledged again: it is not
 * counted twice).
 */
export type PushRun = () => 'applied' | 'refused' | 'duplicate';

/** Runs `fn` after `ms`; returns what cancels it. */
export type Schedule = (ms: number, fn: () => void) => () => void;

export interface CutHoldDeps {
  logger: Logger;
  ledger?: StepLedger;
  /** Default: an unref'd setTimeout. */
  schedule?: Schedule;
  /** Monotonic ms, for the log. */
  now?: () => number;
}

interface Held { tag: StepTag; run: PushRun }

interface Hold {
  id: string;
  since: number;
  queue: Held[];
  cancel: () => void;
  /** Set by cutAt: the steps to cut at and how to answer. */
  at?: { steps: ReadonlyMap<bigint, number>; take: () => void; fail: (err: Error) => void };
}

const defaultSchedule: Schedule = (ms, fn) => {
  const t = setTimeout(fn, ms);
  t.unref();
  return () => clearTimeout(t);
};

/** The hold and cut of one PS (one at a time). */
export class CutHold {
  readonly ledger: StepLedger;
  private hold: Hold | null = null;
  private readonly schedule: Schedule;
  private readonly now: () => number;

  constructor(private readonly deps: CutHoldDeps) {
    this.ledger = deps.ledger ?? new StepLedger();
    this.schedule = deps.schedule ?? defaultSchedule;
    this.now = deps.now ?? (() => performance.now());
  }

  /** The id of the cut holding pushes now, if any. */
  get holding(): string | null {
    return this.hold?.id ?? null;
  }

  /** Pushes held now. */
  get held(): number {
    return this.hold?.queue.length ?? 0;
  }

  /** Applies `run` now, or holds it while a cut is prepared and its step is not part of the cut. */
  offer(tag: StepTag | undefined, run: PushRun): void {
    const h = this.hold;
    if (!tag || !h) { if (tag) this.ledger.heard(tag); this.apply({ tag, run }); return; }
    this.ledger.heard(tag);
    if (h.at && tag.step <= (h.at.steps.get(tag.client) ?? 0)) this.apply({ tag, run });
    else h.queue.push({ tag, run });
    if (h.at) this.check(h);
  }

  /**
   * Round 1: holds every push from now until `cutAt` or `release` (or `holdMs` passed), and
   * returns, per worker, the highest step with a push applied here and its positions. Repeating
   * it for the cut holding now answers again; another cut's is refused.
   */
  prepare(id: string, holdMs: number): Map<bigint, AppliedStep> {
    if (this.hold && this.hold.id !== id) {
      throw new TesseraError(ERROR_CODES.SNAPSHOT_CONFLICT, `cut ${id}: cut ${this.hold.id} is holding pushes on this PS; release it first`);
    }
    if (!this.hold) {
      const cancel = this.schedule(holdMs, () => this.release(id, `no cut followed within ${holdMs} ms`));
      this.hold = { id, since: this.now(), queue: [], cancel };
    }
    return this.ledger.highestApplied();
  }

  /**
   * Round 2: cuts at step `steps.get(w)` of every listed worker (see the file comment). Rejects,
   * having released every held push, after `waitMs` without those steps complete, or when a
   * listed worker's push of a step in the cut was refused here. `acknowledged`: workers whose
   * every push of steps <= their step was answered (the chief read their committed positions):
   * those steps are complete here even if this PS never heard of them (it started after them).
   */
  cutAt<T>(id: string, steps: ReadonlyMap<bigint, number>, waitMs: number, cut: () => T, acknowledged: Iterable<bigint> = []): Promise<T> {
    const h = this.hold;
    if (!h || h.id !== id) {
      return Promise.reject(new TesseraError(ERROR_CODES.UNAVAILABLE, `cut ${id}: not prepared on this PS (it restarted, or its hold ended); abandon the cut`));
    }
    if (h.at) return Promise.reject(new TesseraError(ERROR_CODES.SNAPSHOT_CONFLICT, `cut ${id}: already cutting on this PS`));
    h.cancel();
    for (const w of acknowledged) {
      const s = steps.get(w);
      if (s !== undefined) this.ledger.acknowledged(w, s);
    }
    return new Promise<T>((resolve, reject) => {
      const fail = (err: Error): void => { this.end(h, err.message); reject(err); };
      const take = (): void => {
        let result: T;
        try { result = cut(); } catch (err) { fail(err as Error); return; }
        this.end(h, 'cut taken');
        resolve(result);
      };
      h.at = { steps, take, fail };
      h.cancel = this.schedule(waitMs, () => fail(new TesseraError(ERROR_CODES.UNAVAILABLE,
        `cut ${id}: the pushes of ${this.missing(steps).join(', ')} did not arrive within ${waitMs} ms (a worker died mid-step?); abandon the cut`)));
      const rest: Held[] = [];
      for (const p of h.queue.splice(0)) {
        if (p.tag.step <= (steps.get(p.tag.client) ?? 0)) this.apply(p);
        else rest.push(p);
      }
      h.queue.push(...rest);
      this.check(h);
    });
  }

  /** Ends cut `id`'s hold (the chief abandoned it): applies every held push in arrival order. */
  release(id: string, reason: string): boolean {
    const h = this.hold;
    if (!h || h.id !== id) return false;
    if (h.at) h.at.fail(new TesseraError(ERROR_CODES.UNAVAILABLE, `cut ${id} released: ${reason}`));
    else this.end(h, reason);
    return true;
  }

  /** Takes the cut once every listed worker's steps are complete here; fails on a refusal. */
  private check(h: Hold): void {
    const at = h.at!;
    for (const [w, s] of at.steps) {
      const r = this.ledger.refusedUpTo(w, s);
      if (r !== undefined) {
        at.fail(new TesseraError(ERROR_CODES.UNAVAILABLE, `cut ${h.id}: a push of step ${r} of client ${w.toString(16)} was refused here and may have gone to another PS; abandon the cut`));
        return;
      }
    }
    if (this.missing(at.steps).length === 0) at.take();
  }

  private missing(steps: ReadonlyMap<bigint, number>): string[] {
    const out: string[] = [];
    for (const [w, s] of steps) if (this.ledger.complete(w) < s) out.push(`client ${w.toString(16)} steps ${this.ledger.complete(w) + 1}..${s}`);
    return out;
  }

  /** Drops the hold and applies what it held, in arrival order. */
  private end(h: Hold, reason: string): void {
    if (this.hold !== h) return;
    h.cancel();
    this.hold = null;
    const queue = h.queue.splice(0);
    for (const p of queue) this.apply(p);
    this.deps.logger.info({ cut: h.id, heldPushes: queue.length, heldMs: Math.round(this.now() - h.since), reason }, 'cut hold ended; held pushes applied');
  }

  private apply(p: { tag: StepTag | undefined; run: PushRun }): void {
    const outcome = p.run();
    if (!p.tag) return;
    if (outcome === 'applied') this.ledger.applied(p.tag);
    else if (outcome === 'refused') this.ledger.refused(p.tag);
  }
}
