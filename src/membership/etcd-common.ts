/**
 * Small helpers shared by the etcd-backed membership, election and stores.
 */
import type { IKeyValue } from 'etcd3';

/**
 * Deadline of one control-plane etcd call. A call to a healthy etcd takes milliseconds; 5 s covers
 * a slow WAL fsync or an etcd leader change, and still bounds how long a partitioned etcd can stall
 * a re-registration loop or a `close()`: no etcd call waits without a deadline.
 */
export const ETCD_CALL_DEADLINE_MS = 5_000;

/** gRPC call options carrying a fresh {@link ETCD_CALL_DEADLINE_MS} deadline. */
export function callOptions(): { deadline: Date } {
  return { deadline: new Date(Date.now() + ETCD_CALL_DEADLINE_MS) };
}

/** `rev + 1` for etcd's decimal-string revisions (watches start after the snapshot's revision). */
export function nextRevision(rev: string): string {
  return (BigInt(rev) + 1n).toString();
}

/** The key of a kv as a string (etcd3 hands keys back as Buffers, unprefixed by the namespace). */
export function keyOf(kv: IKeyValue): string {
  return kv.key.toString('utf8');
}
