/**
 * The applied-push memory that moves with migrated buckets (issue 17). A client whose push a
 * source PS applied, but whose answer it never got, re-sends that push; if the source has left
 * by then (drained), or the bucket moved on from a promoted buddy, the retry reaches the new
 * owner, which must acknowledge it rather than apply it twice. So each migration round carries
 * the source's dedup windows that changed since the previous round, in the replication stream's
 * 20-byte identities (applied-pushes.ts), and the target inherits them:
 * - every window under `inheritedClientId(key, sourceId)`: what a client re-sends a push under
 *   once the PS it sent it to is gone (PsFleet.failedOverIdentity);
 * - an inherited window (pushes another PS applied and handed to the source: a promoted
 *   replica's, or an earlier migration's) also under its own key: the client last sent those
 *   pushes to a PS other than the source, and re-sends them under the identity derived from that one.
 * A window is a client's, not a bucket's, so the whole window goes: an identity of a push that
 * touched no moving bucket is never re-sent to the target, so it is only memory there. A target
 * with a buddy replicates the windows it inherits on to it (replication/replicated-windows.ts),
 * for a re-send that reaches that buddy once the target has died.
 */
import type { PushDedup } from '../push-dedup';
import { encodeApplied, forEachApplied, forEachHandedOver } from '../replication/applied-pushes';

/**
 * The identities to hand to a target: the windows of `dedup` changed at or after stamp `since`
 * (0: all), keyed as above (`forEachHandedOver`, the rule a promotion follows too); without
 * `sourceId` (a chief that does not name the source), only the inherited windows, under their
 * own keys.
 */
export function windowToMigrate(dedup: PushDedup, sourceId: number | undefined, since: number): Buffer {
  const clients: bigint[] = [];
  const seqs: number[] = [];
  const acks: number[] = [];
  forEachHandedOver(dedup, sourceId, (k, s, n) => { clients.push(k); seqs.push(s); acks.push(n); }, since);
  return encodeApplied(clients, seqs, acks);
}

/** Inherits the identities `bytes` (from `windowToMigrate`) into `dedup`; returns how many. */
export function inheritMigrated(dedup: PushDedup, bytes: Buffer): number {
  let n = 0;
  forEachApplied(bytes, (k, s, rows) => {
    dedup.inherit(k, s, rows);
    n++;
  });
  return n;
}
