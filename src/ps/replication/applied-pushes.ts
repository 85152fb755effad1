/**
 * The dedup identities of applied pushes as replication carries them (tessera.v1.ReplicaBatch
 * `applied`): per push 20 bytes, little-endian: the client id (u64), the push sequence number
 * (f64, a safe integer) and the rows_applied it was answered (u32).
 */
import { ERROR_CODES, TesseraError } from '../../common/errors';
import type { PushDedup } from '../push-dedup';

/** Bytes per identity. */
export const APPLIED_ENTRY_BYTES = 20;

/** Packs parallel lists of client ids, sequence numbers and answers. */
export function encodeApplied(clients: readonly bigint[], seqs: readonly number[], acks: readonly number[]): Buffer {
  const out = Buffer.alloc(clients.length * APPLIED_ENTRY_BYTES);
  for (let i = 0; i < clients.length; i++) {
    const at = i * APPLIED_ENTRY_BYTES;
    out.writeBigUInt64LE(clients[i], at);
    out.writeDoubleLE(seqs[i], at + 8);
    out.writeUInt32LE(acks[i], at + 16);
  }
  return out;
}

/** Calls `fn` for each packed identity; a length that is not a multiple of 20 is refused. */
export function forEachApplied(bytes: Buffer, fn: (clientId: bigint, seq: number, rows: number) => void): void {
  if (bytes.byteLength % APPLIED_ENTRY_BYTES !== 0) {
    throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `applied: ${bytes.byteLength} bytes is not a multiple of ${APPLIED_ENTRY_BYTES}`);
  }
  for (let at = 0; at < bytes.byteLength; at += APPLIED_ENTRY_BYTES) {
    const seq = bytes.readDoubleLE(at + 8);
    if (!Number.isSafeInteger(seq) || seq < 1) throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `applied: sequence number ${seq} at byte ${at} is not a positive integer`);
    fn(bytes.readBigUInt64LE(at), seq, bytes.readUInt32LE(at + 16));
  }
}

const MASK64 = (1n << 64n) - 1n;

/**
 * The client id under which a promoted replica remembers `clientId`'s pushes to the dead
 * primary `primaryId`. Sequence numbers count per PS, so the primary's numbers for a client
 * overlap the buddy's own for the same client; keying the inherited window apart keeps a new
 * push to the buddy from being taken for an inherited one. A client that re-sends a push it
 * sent to the dead primary names it with this id (ps-fleet.ts).
 */
export function inheritedClientId(clientId: bigint, primaryId: number): bigint {
  let z = (BigInt(primaryId) + 0x9e3779b97f4a7c15n) & MASK64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  const out = (clientId ^ z ^ (z >> 31n)) & MASK64;
  return out === 0n ? 1n : out;
}

/**
 * Calls `fn` with every identity `dedup` (the window of PS `fromId`) remembers, under each key a
 * client re-sends that push with once PS `fromId` is gone (ADR 0043): every window under
 * `inheritedClientId(key, fromId)`, what a client re-sends a push it sent to `fromId` under; an
 * inherited window (pushes another PS applied and handed over: a promoted replica's, a
 * migration's) also under its own key, because its clients last sent those pushes to that other
 * PS and derive the re-send's identity from it. So the key a client uses depends only on the PS
 * it last sent the push to, however often the rows moved after. A migration hands its target the
 * source's windows so (`fromId` undefined, from a chief that does not name the source: only the
 * inherited windows), and a promotion hands the live window the replica's (`fromId` the dead
 * primary). With `since` (a PushDedup stamp), only the windows changed from then on.
 */
export function forEachHandedOver(dedup: PushDedup, fromId: number | undefined, fn: (clientId: bigint, seq: number, rows: number) => void, since = 0): void {
  dedup.forEach((k, s, n, inherited) => {
    if (fromId !== undefined) fn(inheritedClientId(k, fromId), s, n);
    if (inherited) fn(k, s, n);
  }, since);
}

/**
 * A visiting order of `[0, n)` that is far from any hash order: a stride near n × 0.618,
 * coprime with n. Rows read out of one id index come in its hash order, and inserting them into
 * another (same hash, growing) in that order piles them into one probe cluster: a replica or a
 * promotion written in this order instead inserts as fast as pushes do.
 */
export function scrambledOrder(n: number): (i: number) => number {
  if (n < 3) return (i) => i;
  let step = Math.max(1, Math.floor(n * 0.6180339887));
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  while (gcd(step, n) !== 1) step++;
  return (i) => (i * step) % n;
}
