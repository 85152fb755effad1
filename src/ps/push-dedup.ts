/**
 * Idempotent pushes on the PS (ADR 0027): remembers, per client, which recent push sequence
 * numbers it applied and what it answered, so that a retried push (same client id and sequence
 * number: the client gave up waiting for an answer that was only late) is acknowledged again
 * instead of being applied twice.
 *
 * Bounds, and what happens beyond them:
 * - per client, the last `windowSeqs` sequence numbers up to the highest one applied; a push
 *   below that window may or may not have been applied, so it is refused
 *   (TESSERA_ERR_PUSH_OUTSIDE_WINDOW, not retryable) rather than risk applying it twice;
 * - at most `maxClients` clients, least recently pushing first out; an evicted client that
 *   pushes again starts a fresh window (its retries of pushes applied before the eviction would
 *   be applied again: a client must push within the last `maxClients` clients' activity).
 * Memory: 12 bytes × windowSeqs per client, about 12 KiB at the defaults; 48 MiB at most.
 * Nothing here is checkpointed: a restarted PS restores its rows from a checkpoint and forgets
 * every push since, so a retry it does not remember is one whose effect it lost anyway. The
 * window travels instead with a replica (replica-store.ts) and with migrated buckets
 * (migration/migrated-window.ts), to the PS that takes over the rows its pushes changed.
 *
 * ```ts
 * const dedup = new PushDedup();
 * const again = dedup.lookup(clientId, seq);   // the original rows_applied, or undefined
 * if (again === undefined) dedup.record(clientId, seq, applyThePush());
 * ```
 */
import { ERROR_CODES, TesseraError } from '../common/errors';

/** Sequence numbers remembered per client. Must exceed a client's pushes to one PS in flight (ADR 0027). */
export const DEDUP_WINDOW_SEQS = 1024;
/** Clients remembered per PS, least recently pushing evicted first. */
export const DEDUP_MAX_CLIENTS = 4096;

/** How much a PushDedup remembers. */
export interface PushDedupOptions {
  /** Sequence numbers remembered per client. Default DEDUP_WINDOW_SEQS. */
  windowSeqs?: number;
  /** Clients remembered. Default DEDUP_MAX_CLIENTS. */
  maxClients?: number;
}

/**
 * One client's window: slot seq % size holds the seq applied there (0: none) and its answer.
 * `touched`: the record count when it last changed; `inherited`: it holds pushes another PS
 * applied (a promoted replica's, or a migrated window), not only pushes sent to this PS.
 */
interface ClientWindow {
  highest: number;
  seqs: Float64Array;
  acks: Uint32Array;
  touched: number;
  inherited: boolean;
}

/** The applied-push memory of one PS. */
export class PushDedup {
  private readonly size: number;
  private readonly maxClients: number;
  // A Map iterates in insertion order: re-inserting a client on each push keeps the least
  // recently pushing client first, which is the one evicted.
  private readonly clients = new Map<bigint, ClientWindow>();
  private dups = 0;
  private records = 0;

  constructor(opts: PushDedupOptions = {}) {
    this.size = opts.windowSeqs ?? DEDUP_WINDOW_SEQS;
    this.maxClients = opts.maxClients ?? DEDUP_MAX_CLIENTS;
    if (!(Number.isSafeInteger(this.size) && this.size > 0 && Number.isSafeInteger(this.maxClients) && this.maxClients > 0)) {
      throw new TesseraError(ERROR_CODES.CONFIG, `push dedup: windowSeqs ${this.size} and maxClients ${this.maxClients} must be positive integers`);
    }
  }

  /** Repeated pushes acknowledged without being applied, since this PS started. */
  get duplicates(): number {
    return this.dups;
  }

  /** Records so far: pass it to `forEach` later to visit only the windows changed since. */
  get stamp(): number {
    return this.records;
  }

  /** Clients remembered now. */
  get clientCount(): number {
    return this.clients.size;
  }

  /**
   * The rows_applied first answered to push `seq` of `clientId` when that push was applied
   * already (and counts it as a duplicate), else undefined: apply it, then `record` it. A zero
   * id or seq (a client without dedup) is never a duplicate.
   * @throws TesseraError PUSH_OUTSIDE_WINDOW when `seq` is older than the client's window.
   */
  lookup(clientId: bigint | undefined, seq: number | undefined): number | undefined {
    if (!clientId || !seq) return undefined;
    const w = this.clients.get(clientId);
    if (!w || seq > w.highest) return undefined;
    if (seq <= w.highest - this.size) {
      throw new TesseraError(ERROR_CODES.PUSH_OUTSIDE_WINDOW,
        `push_seq: push ${seq} of client ${clientId.toString(16)} is older than this PS remembers (the ${this.size} pushes up to ${w.highest}), so it may already have been applied; it was not applied again. Lower max_inflight_pushes or the tables per step so fewer pushes are in flight`);
    }
    const slot = seq % this.size;
    if (w.seqs[slot] !== seq) return undefined;
    this.dups++;
    return w.acks[slot];
  }

  /**
   * Calls `fn` for every push remembered, per client in window order (a replica or a migration
   * hands them over); with `since` (a `stamp`), only in the windows changed from then on; with
   * `inheritedOnly`, only in inherited windows. `inherited` tells a window another PS handed
   * over (`inherit`) from one of pushes sent here.
   */
  forEach(fn: (clientId: bigint, seq: number, rowsApplied: number, inherited: boolean) => void, since = 0, inheritedOnly = false): void {
    for (const [id, w] of this.clients) {
      if (w.touched < since || (inheritedOnly && !w.inherited)) continue;
      for (let s = Math.max(1, w.highest - this.size + 1); s <= w.highest; s++) {
        if (w.seqs[s % this.size] === s) fn(id, s, w.acks[s % this.size], w.inherited);
      }
    }
  }

  /** Remembers that push `seq` of `clientId` was applied and answered `rowsApplied`. */
  record(clientId: bigint | undefined, seq: number | undefined, rowsApplied: number): void {
    this.put(clientId, seq, rowsApplied, false);
  }

  /**
   * Remembers a push another PS applied to rows this PS now holds (a promoted replica, buckets
   * migrated here), under the identity a client re-sends it with (inheritedClientId).
   */
  inherit(clientId: bigint, seq: number, rowsApplied: number): void {
    this.put(clientId, seq, rowsApplied, true);
  }

  private put(clientId: bigint | undefined, seq: number | undefined, rowsApplied: number, inherited: boolean): void {
    if (!clientId || !seq) return;
    let w = this.clients.get(clientId);
    if (w) {
      this.clients.delete(clientId);
    } else {
      if (this.clients.size >= this.maxClients) this.clients.delete(this.clients.keys().next().value as bigint);
      w = { highest: 0, seqs: new Float64Array(this.size), acks: new Uint32Array(this.size), touched: 0, inherited: false };
    }
    this.clients.set(clientId, w);
    w.touched = ++this.records;
    if (inherited) w.inherited = true;
    if (seq <= w.highest - this.size) return; // lookup refuses these; never let one overwrite a live slot
    const slot = seq % this.size;
    w.seqs[slot] = seq;
    w.acks[slot] = rowsApplied;
    if (seq > w.highest) w.highest = seq;
  }
}
