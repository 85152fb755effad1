/**
 * Buffers for the rows a training loop pulls, reused batch after batch instead of allocated per
 * pull. A DeepFM step at batch 1,024 pulls 1.8 MB of rows; allocated fresh, those ArrayBuffers
 * are what makes V8 run a young-generation collection every couple of steps ("external memory
 * pressure": it collects once the young generation's ArrayBuffers reach twice its semi-space,
 * however little else was allocated), each copying whatever young objects are alive then.
 *
 * A batch takes the next of `depth` slots; each slot keeps one buffer per table, grown when a
 * larger batch needs it and handed out as a view of exactly the rows asked for. A slot is handed
 * out again `depth` batches later, so a batch's rows must be done with by then: the Trainer reads
 * a batch's rows in its step, and prepares at most two batches beyond the one it trains.
 *
 * ```ts
 * const buffers = new RowBuffers(3);
 * const slot = buffers.nextBatch();
 * await params.pull(table, ids, dim, { out: slot.take(table, (ids.length >>> 1) * dim) });
 * ```
 */

/** One batch's buffers: at most one per table (a second take of a table in the batch gets a fresh array). */
export interface RowSlot {
  /** A Float32Array of exactly `length` values for `table`'s rows in this batch. */
  take(table: string, length: number): Float32Array;
}

/** A ring of per-table row buffers; see the file comment. */
export class RowBuffers {
  private readonly slots: Map<string, Float32Array>[];
  private next = 0;

  /** @param depth batches whose rows may be in use at once (the ring's length), at least 1 */
  constructor(depth: number) {
    this.slots = Array.from({ length: Math.max(1, depth) }, () => new Map());
  }

  /** The buffers of the next batch. */
  nextBatch(): RowSlot {
    const buffers = this.slots[this.next];
    this.next = (this.next + 1) % this.slots.length;
    const taken = new Set<string>();
    return {
      take: (table, length) => {
        if (taken.has(table)) return new Float32Array(length);
        taken.add(table);
        let buf = buffers.get(table);
        if (buf === undefined || buf.length < length) {
          buf = new Float32Array(length);
          buffers.set(table, buf);
        }
        return buf.subarray(0, length);
      },
    };
  }
}
