/**
 * Checkpoint ids sort by age: `ckpt-<8-digit sequence>-<UTC timestamp>`, e.g.
 * `ckpt-00000003-20260101T120000Z`. The sequence decides the order; the time is for people.
 */

import { ERROR_CODES, TesseraError } from '../common/errors';

const ID_RE = /^ckpt-(\d{8,})-(\d{8}T\d{6}Z)$/;

/**
 * What a checkpoint id may be, wherever one names a directory (Snapshot, Restore, an
 * incremental's base): 1-128 characters of [A-Za-z0-9_.-], not starting with a dot, so never
 * `.`, `..` or a hidden name, and never a path.
 */
const SAFE_ID_RE = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/;

/** True when `id` is a safe checkpoint id (see SAFE_ID_RE). */
export function isCheckpointId(id: unknown): id is string {
  return typeof id === 'string' && SAFE_ID_RE.test(id);
}

/**
 * Returns `id` when it is a safe checkpoint id (see SAFE_ID_RE); otherwise throws
 * INVALID_ARGUMENT naming `key`.
 *
 * ```ts
 * checkCheckpointId(req.checkpointId, 'checkpoint_id');
 * ```
 */
export function checkCheckpointId(id: unknown, key: string): string {
  if (!isCheckpointId(id)) {
    throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT,
      `${key}: ${JSON.stringify(id)} must be 1-128 characters of [A-Za-z0-9_.-], not starting with a dot`);
  }
  return id;
}

/** A new checkpoint id for sequence number `seq` (the chief counts them). */
export function newCheckpointId(seq: number, now: Date = new Date()): string {
  if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError(`checkpoint sequence must be a non-negative integer, got ${seq}`);
  const t = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `ckpt-${String(seq).padStart(8, '0')}-${t}`;
}

/** The sequence number of an id made by newCheckpointId, or null for any other name. */
export function checkpointSeq(id: string): number | null {
  const m = ID_RE.exec(id);
  return m ? Number(m[1]) : null;
}

/** Orders ids oldest first: by sequence when both have one, else by name. */
export function compareCheckpointIds(a: string, b: string): number {
  const sa = checkpointSeq(a);
  const sb = checkpointSeq(b);
  if (sa !== null && sb !== null && sa !== sb) return sa - sb;
  return a < b ? -1 : a > b ? 1 : 0;
}
