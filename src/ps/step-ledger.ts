/**
 * What one PS knows of each worker's training steps, for a cut taken at per-worker step numbers
 * (ADR 0040): which steps' pushes it has applied, which steps are complete here (every push the
 * step sends to this PS answered), and the data positions attached to the highest step applied.
 *
 * A worker numbers its steps 1, 2, 3, … (one number for all the pushes of a step, whatever PS
 * and table they go to) and tags each push with a {@link StepTag}. Every step sends at least one
 * push to every PS (an empty one when the step touches none of its rows), and each push says how
 * many the step sends to this PS (`parts`), so a PS can tell a step is complete here by counting,
 * without waiting for the worker's next step. `ackedThrough` (the highest step whose every push,
 * to every PS, the worker has seen answered) settles the rest: the steps before the first one
 * this PS saw from the worker, and steps whose push here was refused (then re-sent elsewhere).
 *
 * A refused push (stale shard map, moving fence, fenced PS) is remembered until `ackedThrough`
 * passes its step: the worker may have re-sent it to another PS, which could not know to wait for
 * it, so a cut at or past that step is refused rather than risk holding half the step
 * ({@link StepLedger.refusedUpTo}).
 *
 * ```ts
 * const ledger = new StepLedger();
 * ledger.heard(tag);                 // on arrival, before the push is applied or held
 * ledger.applied(tag);               // once it is applied (or ledger.refused(tag))
 * ledger.complete(tag.client) >= s;  // every push of steps <= s is answered here
 * ledger.highestApplied();           // per worker: { step, positions } (the chief's round 1)
 * ```
 */
import type { StepTag } from '../wire/step-tag';

/** A worker's highest step applied on a PS, and its data positions after that step. */
export interface AppliedStep {
  step: number;
  positions: Uint8Array;
}

/** Workers remembered per PS, least recently heard first out (as PushDedup's clients). */
export const LEDGER_MAX_CLIENTS = 4096;

/** One worker's steps on this PS. */
interface ClientSteps {
  /** Every push of steps <= complete is answered here. */
  complete: number;
  /** Highest step with a push applied here, and the positions that push carried. */
  highest: number;
  positions: Uint8Array | null;
  /** Steps above `complete` heard of: pushes expected here and answered so far. */
  open: Map<number, { expected: number; answered: number }>;
  /** Steps above `complete` with a push refused here. */
  refused: Set<number>;
}

/** The per-worker step accounting of one PS. */
export class StepLedger {
  // Insertion order is recency: a worker re-inserted on each push is evicted last.
  private readonly clients = new Map<bigint, ClientSteps>();

  constructor(private readonly maxClients = LEDGER_MAX_CLIENTS) {}

  /** Learns what a push's tag says about earlier steps; call on arrival, held or not. */
  heard(tag: StepTag): void {
    this.acknowledged(tag.client, tag.ackedThrough);
  }

  /**
   * Learns that every push of the worker's steps <= `through` was answered, on every PS: from a
   * push's tag, or from the chief (the worker committed positions past them), which matters to
   * a PS that started after those steps and so will hear nothing of them.
   */
  acknowledged(client: bigint, through: number): void {
    const c = this.client(client, through);
    for (const s of c.refused) if (s <= through) c.refused.delete(s);
    if (through > c.complete) this.settle(c, through);
  }

  /** Records that a tagged push was applied. */
  applied(tag: StepTag): void {
    const c = this.answered(tag);
    if (c && tag.step >= c.highest) {
      c.highest = tag.step;
      // A copy, which `new Uint8Array(view)` always makes: the tag's bytes are a view into the
      // request, whose buffer the node:http2 plane reuses for the next push once this one is
      // answered. (`slice()` was a view when the view was a Buffer: issue 18, ADR 0045.)
      c.positions = new Uint8Array(tag.positions);
    }
  }

  /** Records that a tagged push was refused (nothing of it applied here). */
  refused(tag: StepTag): void {
    // Remembered before it is counted: counting it may complete the step here.
    const c = this.clients.get(tag.client);
    if (c && tag.step > c.complete) c.refused.add(tag.step);
    this.answered(tag);
  }

  /** Every push of steps <= this is answered here (0 for a worker never heard of). */
  complete(client: bigint): number {
    return this.clients.get(client)?.complete ?? 0;
  }

  /** The lowest step <= `step` with a push refused here and not yet settled, if any. */
  refusedUpTo(client: bigint, step: number): number | undefined {
    let low: number | undefined;
    for (const s of this.clients.get(client)?.refused ?? []) if (s <= step && (low === undefined || s < low)) low = s;
    return low;
  }

  /**
   * Per worker, the highest step with a push applied here and the positions that push carried
   * (workers with none applied are left out).
   */
  highestApplied(): Map<bigint, AppliedStep> {
    const out = new Map<bigint, AppliedStep>();
    for (const [id, c] of this.clients) if (c.highest > 0 && c.positions) out.set(id, { step: c.highest, positions: c.positions });
    return out;
  }

  private answered(tag: StepTag): ClientSteps | undefined {
    const c = this.clients.get(tag.client);
    if (!c) return undefined;
    if (tag.step > c.complete) {
      const o = c.open.get(tag.step) ?? { expected: Math.max(1, tag.parts), answered: 0 };
      o.answered++;
      c.open.set(tag.step, o);
      this.advance(c);
    }
    return c;
  }

  /** The worker's record, created (complete through `base`) when first heard, moved to most recent. */
  private client(id: bigint, base: number): ClientSteps {
    let c = this.clients.get(id);
    if (c) {
      this.clients.delete(id);
    } else {
      if (this.clients.size >= this.maxClients) this.clients.delete(this.clients.keys().next().value as bigint);
      c = { complete: base, highest: 0, positions: null, open: new Map(), refused: new Set() };
    }
    this.clients.set(id, c);
    return c;
  }

  /** Marks every step <= `through` complete. */
  private settle(c: ClientSteps, through: number): void {
    c.complete = through;
    for (const s of c.open.keys()) if (s <= through) c.open.delete(s);
    this.advance(c);
  }

  /** Moves `complete` past every following step whose pushes here are all answered. */
  private advance(c: ClientSteps): void {
    for (let o = c.open.get(c.complete + 1); o && o.answered >= o.expected; o = c.open.get(c.complete + 1)) {
      c.open.delete(++c.complete);
    }
  }
}
