/**
 * The dedup windows a buddy replica keeps beyond the identities of pushes applied on its primary
 * (issue 17; ADR 0043, amendment 1). A primary's window also holds identities it inherited: a
 * migration's target remembers the pushes its source applied to the rows it took over, and a
 * promoted buddy the pushes its dead primary applied. A client re-sends such a push under the
 * key derived from the PS it last sent it to, not from this primary, so a promotion must hand an
 * inherited window over under its own key as well as the derived one (`forEachHandedOver`): the
 * buddy must know which windows are inherited. So each complete batch carries, in its
 * `inherited` field, the inherited windows changed since the previous complete batch (a
 * migration installs them between two batches), and the buddy inherits them into its replica's
 * window, marked as the primary's are.
 *
 * After a reset (a new buddy, a lost batch, a new shard map) the complete batch of the full copy
 * carries every window, the primary's own ones in `applied`: that copy holds every push applied
 * so far, and a new buddy knows none of their identities. A buddy keeps a replica's window across
 * a reset too (ReplicaStore), so a window survives a full copy either way.
 *
 * ```ts
 * const windows = new ReplicatedWindows();
 * windows.reset();                             // with the log's resync
 * const { own, inherited } = windows.take(node.dedup);  // on a complete batch
 * ```
 */
import type { PushDedup } from '../push-dedup';
import { encodeApplied } from './applied-pushes';

/** Identities in the 20-byte format of applied-pushes.ts. */
export interface ReplicatedWindowBytes {
  /** Of the primary's own windows (after a reset only). */
  own: Buffer;
  /** Of its inherited windows. */
  inherited: Buffer;
}

/** The primary's side: which windows the next complete batch carries. */
export class ReplicatedWindows {
  /** The dedup stamp from which windows changed go; 0: every window (after a reset). */
  private since = 0;

  /** The next complete batch carries every window: the buddy starts over from a full copy. */
  reset(): void {
    this.since = 0;
  }

  /** True when the next complete batch would carry a window: one changed since the last `take`, or a reset. */
  pending(dedup: PushDedup): boolean {
    return this.since === 0 || dedup.stamp >= this.since;
  }

  /**
   * The windows for a complete batch: after a reset all of them, else the inherited windows
   * changed since the previous take (the own pushes' identities go one by one, as applied).
   */
  take(dedup: PushDedup): ReplicatedWindowBytes {
    const all = this.since === 0;
    const own = new Identities();
    const inherited = new Identities();
    dedup.forEach((k, s, n, isInherited) => (isInherited ? inherited : own).add(k, s, n), this.since, !all);
    this.since = dedup.stamp + 1;
    return { own: own.encode(), inherited: inherited.encode() };
  }
}

/** Parallel lists of identities, packed by `encode`. */
class Identities {
  private readonly clients: bigint[] = [];
  private readonly seqs: number[] = [];
  private readonly acks: number[] = [];

  add(clientId: bigint, seq: number, rows: number): void {
    this.clients.push(clientId);
    this.seqs.push(seq);
    this.acks.push(rows);
  }

  encode(): Buffer {
    return encodeApplied(this.clients, this.seqs, this.acks);
  }
}
