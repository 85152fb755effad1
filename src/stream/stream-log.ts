/**
 * StreamLog: the broker behind a stream source, reduced to what training needs: read entries
 * after a position from several partitions, append entries, and read the newest entries of one
 * partition. Redis Streams is the implementation (redis-stream-log.ts); a Kafka log would be
 * another (topic partitions, offsets as positions) with the same shape.
 */

/** The position before the first entry of a partition. */
export const START_POSITION = '0-0';

/** One entry: its id (a position) and its fields. */
export interface StreamEntry {
  id: string;
  fields: Record<string, string>;
}

/** The entries read from one partition. */
export interface PartitionEntries {
  key: string;
  entries: StreamEntry[];
}

/** An event log partitioned by key. */
export interface StreamLog {
  /**
   * Entries after `after[key]` (exclusive), at most `count` per partition, from every partition
   * named; waits up to `blockMs` for the first one. An empty array: nothing new in time.
   */
  read(after: ReadonlyMap<string, string>, count: number, blockMs: number): Promise<PartitionEntries[]>;
  /** Appends entries (each a field map) to partitions in one pipelined round trip; resolves with their ids. */
  append(entries: readonly { key: string; fields: Record<string, string> }[]): Promise<string[]>;
  /** The newest `count` entries of one partition, oldest first. */
  newest(key: string, count: number): Promise<StreamEntry[]>;
  /** Closes the connections. */
  close(): Promise<void>;
}
