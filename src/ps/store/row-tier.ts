/**
 * The disk tier's interface as the tables see it (issue #6 part 4, ADR 0012). A PS holds one
 * `RowTier` (injected; `LmdbRowTier` in src/ps/tier/ is the implementation main.ts wires), and
 * every table created with `eviction.spill` opens its own `TableTier` in it.
 *
 * Every call is synchronous, because the table's request handling is: a pull or push that needs
 * a spilled row reads it, puts it back in RAM and deletes it from the tier inside the same
 * synchronous call, so no other request can see the row in both places or in neither. Writes are
 * staged in memory and made durable-in-the-store by `commit()` (one write transaction per table
 * call, not per row); `get` sees staged writes, so a row is readable from the moment it is spilled.
 *
 * The tier is not a checkpoint: its content does not survive the PS process (a table's store is
 * emptied when it is opened). Checkpoints stream spilled rows like resident ones.
 */

/** Bytes of a tier key: the u64 id, big-endian (hi then lo), so keys sort by id. */
export const TIER_KEY_BYTES = 8;

/** One table's rows on disk, keyed by 8-byte id keys, each value one encoded row (tier-rows.ts). */
export interface TableTier {
  /** The record of `key`, or undefined; the bytes are valid only until the next call on the tier. */
  get(key: Uint8Array): Uint8Array | undefined;
  /** Stages `record` (copied) as the value of `key`. */
  put(key: Uint8Array, record: Uint8Array): void;
  /** Stages the removal of `key`. */
  delete(key: Uint8Array): void;
  /**
   * Writes every staged change in one transaction. On failure (disk full, I/O error) the staged
   * changes stay staged, and readable, and the error is thrown; the next commit retries them.
   */
  commit(): void;
  /**
   * Calls `fn` for up to `limit` records with keys strictly greater than `after` (null: from the
   * first), in key order; commits first. Returns how many were visited. `fn` must not modify the tier.
   */
  scan(after: Uint8Array | null, limit: number, fn: (key: Uint8Array, record: Uint8Array) => void): number;
  /** Removes every record now. */
  clear(): void;
}

/** The disk tier of one PS: one `TableTier` per table that spills. */
export interface RowTier {
  /** Where the tier lives, for messages (e.g. the directory). */
  readonly location: string;
  /**
   * Opens (creating, or emptying what a previous process left) the store of table `name`.
   * Throws TESSERA_ERR_TIER_UNAVAILABLE naming the location when the tier cannot be used.
   */
  openTable(name: string): TableTier;
  /** Deletes table `name`'s store (the table was dropped). */
  dropTable(name: string): void;
  /** Closes the tier (process shutdown). */
  close(): Promise<void>;
}

/** Writes the tier key of id `(lo, hi)` into `key` (8 bytes). */
export function writeTierKey(key: Uint8Array, lo: number, hi: number): Uint8Array {
  key[0] = hi >>> 24; key[1] = hi >>> 16; key[2] = hi >>> 8; key[3] = hi;
  key[4] = lo >>> 24; key[5] = lo >>> 16; key[6] = lo >>> 8; key[7] = lo;
  return key;
}

/** The id halves `[lo, hi]` of a tier key. */
export function readTierKey(key: Uint8Array): [number, number] {
  const hi = ((key[0] << 24) | (key[1] << 16) | (key[2] << 8) | key[3]) >>> 0;
  const lo = ((key[4] << 24) | (key[5] << 16) | (key[6] << 8) | key[7]) >>> 0;
  return [lo, hi];
}

/**
 * The disk tiers of the replicas a buddy keeps (issue 17, ADR 0037 amendment 5): one per
 * primary, apart from the PS's own tier, so a replica's rows spill on the buddy under the
 * primary's budgets as the primary's rows do, and dropping a replica drops its tier whole.
 */
export interface ReplicaTiers {
  /** The tier of `primaryId`'s replica: the same one on every call until `release`. */
  of(primaryId: number): RowTier;
  /** Closes and deletes the tier of `primaryId`'s replica (this PS keeps it no longer). */
  release(primaryId: number): Promise<void>;
  /** Closes every replica tier (process shutdown); their files stay until the next `release`. */
  close(): Promise<void>;
}
