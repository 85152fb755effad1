/**
 * Admission counts and eviction metadata in buddy replication (issue 17), both halves. Rows of
 * tables with admission or eviction reach the buddy as rows read after apply; with them go a
 * `meta` chunk (each row's last-touch tick and use count, in the primary's clock, which the chunk
 * names) and, per table with admission, `sketch` chunks of the counters changed since the
 * previous batch (all of them after a reset): the chunk kinds a migration sends
 * (migrated-meta.ts). The buddy keeps them in its replica table (made with the primary's
 * admission and an eviction that never evicts) and a promotion carries them into the live table,
 * ticks moved into the live table's clock. Pulls are not shipped, so a row only pulled since the
 * previous batch sends its new tick and count with its next push.
 */
import type { Chunk } from '../../checkpoint/chunk-format';
import { metaChunk, metaWords, sketchChunks } from '../migration/migrated-meta';
import type { EmbeddingTable } from '../store/embedding-table';
import type { EvictionConfig } from '../store/table-options';
import type { LoopSlicer } from './replica-promotion';

/** A replica table's eviction: metadata storage only (no budget, and a TTL no age passes). */
export const REPLICA_EVICTION: EvictionConfig = Object.freeze({ ttlSteps: 0xffffffff });

/**
 * A replica table's eviction: with `spills` (the primary's table spills, and the buddy has a disk
 * tier for the replica) the primary's budget, spilling to the replica's own tier, and no TTL (the
 * primary's TTL evictions arrive as tombstones); otherwise `REPLICA_EVICTION`, every row in RAM.
 */
export function replicaEviction(primary: EvictionConfig, spills: boolean): EvictionConfig {
  if (!spills || !primary.spill) return REPLICA_EVICTION;
  return {
    ...(primary.maxRows !== undefined ? { maxRows: primary.maxRows } : {}),
    ...(primary.maxBytes !== undefined ? { maxBytes: primary.maxBytes } : {}),
    spill: true,
  };
}

/** Every bucket, at any bucket count: a replica's sketch holds its primary's counters only. */
const EVERY_BUCKET = Uint8Array.of(1);

/** Row slots read per slice of a promotion's metadata pass. */
const SLICE_SLOTS = 65_536;

/** The primary's side: the sketch counters as last sent, by table. */
export class ReplicatedMeta {
  private sent = new Map<string, Uint8Array>();

  /** The next batch resets the buddy: every counter goes again. */
  reset(): void {
    this.sent = new Map();
  }

  /** The `meta` chunk of the resident rows `ids[0..2n)` of `t` a batch carries (n = 0: the primary's clock alone); none without eviction. */
  rowsMeta(t: EmbeddingTable, ids: Uint32Array, n: number): Buffer[] {
    const words = t.evictionMetaOf(ids, n);
    return words ? [metaChunk(t.name, t.evictionClock(), ids.subarray(0, 2 * n), words)] : [];
  }

  /** `sketch` chunks of `t` (a table with admission): its counters of `owned` (bucket → 1) changed since the previous batch (non-zero ones after a reset). */
  sketches(t: EmbeddingTable, owned: Uint8Array): Buffer[] {
    // After a reset the buddy's sketch is empty: against a zero baseline only counted cells go.
    const a = t.admissionCells(owned, this.sent.get(t.name) ?? new Uint8Array(t.admission!.sketchWidth * t.admission!.sketchDepth));
    if (!a) return [];
    this.sent.set(t.name, a.sent);
    return sketchChunks(t.name, a.cells);
  }
}

/** Applies a replicated `meta` or `sketch` chunk to replica table `t`; returns the primary's clock of a `meta` chunk. */
export function applyReplicatedMeta(t: EmbeddingTable, c: Chunk): number | undefined {
  if (c.header.kind === 'sketch') {
    t.mergeAdmissionCells(c.ids, EVERY_BUCKET);
    return undefined;
  }
  t.loadEvictionMeta(c.ids, metaWords(c), 0);
  return c.header.stateWidth;
}

/**
 * Carries `replica`'s admission counters and eviction metadata of `buckets` (bucket → 1) into
 * `live` after its rows were promoted: the counters of regions holding only those buckets are set,
 * and each row's tick is moved from the primary's clock (`primaryClock`, of the newest `meta`
 * chunk) into `live`'s. In slices, like the rows.
 */
export async function promoteMeta(replica: EmbeddingTable, live: EmbeddingTable, buckets: Uint8Array, primaryClock: number | undefined, slicer: LoopSlicer): Promise<void> {
  const a = live.admission ? replica.admissionCells(buckets, null) : null;
  if (a) live.mergeAdmissionCells(a.cells, buckets);
  if (primaryClock === undefined || !live.eviction) return;
  const shift = (live.evictionClock() - primaryClock) | 0;
  for (let from = 0, done = false; !done;) {
    const s = replica.evictionMetaSlice(buckets, null, from, SLICE_SLOTS);
    if (!s) return;
    ({ next: from, done } = s);
    live.loadEvictionMeta(s.ids, s.words, shift);
    if (slicer.due()) await slicer.pause();
  }
}
