/**
 * A tagged push through the PS's cut hold (ADR 0040): answered at once when no cut holds it, or
 * once the cut applies it. A retry of a push applied already is acknowledged at once without
 * entering the hold: it changes nothing, and counting it as a part of its step would complete
 * that step early. A retry of a push that is still held is run after it and recognised as a
 * duplicate then (PsNode's dedup), so it is not counted either.
 */
import type { PushRequestMsg } from '../wire/data-plane-codec';
import type { CutHold } from './cut-hold';
import type { PsNode } from './ps-node';

/**
 * Offers tagged push `req` to `hold`; `apply` applies it and returns the answer (or throws the
 * refusal). Returns the answer (or throws) at once when the push was not held, else a promise
 * of it, settled once the cut applies it.
 */
export function heldPush<R>(node: PsNode, hold: CutHold, req: PushRequestMsg & { stepTag: NonNullable<PushRequestMsg['stepTag']> },
  apply: () => R, acknowledged: (rowsApplied: number) => R): R | Promise<R> {
  const again = node.dedup.lookup(req.clientId, req.pushSeq);
  if (again !== undefined) return acknowledged(again);
  type Outcome = { ok: R } | { err: unknown };
  let outcome: Outcome | undefined;
  let settle: ((o: Outcome) => void) | undefined;
  hold.offer(req.stepTag, () => {
    const dups = node.dedup.duplicates;
    try {
      outcome = { ok: apply() };
    } catch (err) {
      outcome = { err };
    }
    settle?.(outcome);
    if ('err' in outcome) return 'refused';
    return node.dedup.duplicates > dups ? 'duplicate' : 'applied';
  });
  const now = outcome as Outcome | undefined;
  if (now) {
    if ('err' in now) throw now.err;
    return now.ok;
  }
  return new Promise<R>((resolve, reject) => {
    settle = (o) => ('err' in o ? reject(o.err) : resolve(o.ok));
  });
}
