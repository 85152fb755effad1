/**
 * Dropping the rows of buckets a PS no longer owns (the source once a migration commits, the
 * target when one rolls back) in slices, yielding to the event loop between them (issue 17).
 * Dropped in one go, a third of a 5M-row table took the PS's event loop for 10 s and more on a
 * loaded machine: every request to that PS waited, and every client's keepalive ping went
 * unanswered until grpc-js closed the connection ("Connection dropped").
 *
 * ```ts
 * const rows = await dropBucketRows(node, moved);   // resolves when every table is done
 * ```
 */
import type { PsNode } from '../ps-node';
import { EmbeddingTable } from '../store/embedding-table';

/**
 * Row slots looked at per slice: a few milliseconds of work here, so requests to the buckets the
 * PS keeps wait at most that long for a drop.
 */
export const DROP_SLICE_ROWS = 16_384;

/** Resolves on the next turn of the event loop, after pending I/O. */
function yieldToIo(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Removes every row of `buckets` (bucket → 1) from every embedding table of `node`, a slice at a
 * time; the PS must not own those buckets (so no row of them is created meanwhile). Returns the
 * rows removed.
 */
export async function dropBucketRows(node: PsNode, buckets: Uint8Array, sliceRows = DROP_SLICE_ROWS): Promise<number> {
  let removed = 0;
  for (const info of node.store.list()) {
    const t = node.store.get(info.name);
    if (!(t instanceof EmbeddingTable)) continue;
    // A table dropped (or created again) meanwhile has lost its rows anyway.
    for (let from = 0; node.store.get(info.name) === t;) {
      const slice = t.clearBucketsSlice(buckets, node.bucketCount, from, sliceRows);
      removed += slice.removed;
      if (slice.done) break;
      from = slice.next;
      await yieldToIo();
    }
  }
  return removed;
}
