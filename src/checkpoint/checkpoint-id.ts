/**
 * Checkpoint ids sort by age: `ckpt-<8-digit sequence>-<UTC timestamp>`, e.g.
 * `ckpt-00000003-20260101T120000Z`. The sequence decides the order; the time is for people.
 */

const ID_RE = /^ckpt-(\d{8,})-(\d{8}T\d{6}Z)$/;

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
