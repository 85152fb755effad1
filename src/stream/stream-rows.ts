/**
 * StreamRows: the RowSource of a stream job's worker. It reads the partitions it is given, each
 * from the position after its last applied entry, and yields batches of one partition at a time,
 * so that every batch (and the training step it feeds) belongs to exactly one partition and its
 * position is that partition's last entry in the batch.
 *
 * A pass ends when nothing new arrives within `blockMs` (the stream is drained), when `roundMs`
 * have passed, or once `stopping()`: the worker then commits, looks at its assignments again and
 * starts the next pass from the committed positions. Bad entries are counted, sampled and
 * reported through `onBad` (one line each), and skipped: their position still advances, so a
 * bad entry is never read twice and never stops the worker.
 */
import { LineError } from '../data/parsers';
import type { RawRow, RowSchema } from '../data/record';
import type { PositionedRows, ReaderStats, RowSource } from '../data/row-source';
import { parseStreamEntry } from './stream-entry';
import type { StreamLog } from './stream-log';

/** Where a batch leaves its partition: the id of the last entry it consumed. */
export interface StreamPosition {
  key: string;
  id: string;
}

/** Bad-entry examples kept in the stats. */
const MAX_SAMPLES = 5;

export interface StreamRowsOptions {
  /** Partition key → the id of the last entry already applied (START_POSITION: none). */
  after: ReadonlyMap<string, string>;
  schema: RowSchema;
  /** Longest wait for a new entry before the pass ends, ms. */
  blockMs: number;
  /** Longest pass, ms. */
  roundMs: number;
  stopping?: () => boolean;
  /** Told of each bad entry: where (`KEY@ID`) and why. */
  onBad?: (where: string, reason: string) => void;
  now?: () => number;
}

/**
 * Rows from the partitions of a stream log.
 *
 * ```ts
 * const rows = new StreamRows(log, { after: new Map([['clicks:0', '0-0']]), schema, blockMs: 500, roundMs: 5000 });
 * for await (const b of rows.positionedBatches(256)) train(b.rows), commitLater(b.next);
 * ```
 */
export class StreamRows implements RowSource<StreamPosition> {
  private counts: ReaderStats = { rows: 0, bad: 0, blank: 0, samples: [] };

  constructor(private readonly log: StreamLog, private readonly opts: StreamRowsOptions) {}

  async *positionedBatches(batchSize: number): AsyncGenerator<PositionedRows<StreamPosition>> {
    const now = this.opts.now ?? Date.now;
    const deadline = now() + this.opts.roundMs;
    const after = new Map(this.opts.after);
    this.counts = { rows: 0, bad: 0, blank: 0, samples: [] };
    while (now() < deadline && !this.opts.stopping?.()) {
      const got = await this.log.read(after, batchSize, this.opts.blockMs);
      if (got.length === 0) return;
      for (const part of got) {
        if (part.entries.length === 0) continue;
        const rows: RawRow[] = [];
        for (const e of part.entries) {
          const row = this.parse(part.key, e);
          if (row) rows.push(row);
        }
        const id = part.entries[part.entries.length - 1].id;
        after.set(part.key, id);
        yield { rows, next: { key: part.key, id } };
      }
    }
  }

  stats(): ReaderStats {
    return { ...this.counts, samples: [...this.counts.samples] };
  }

  private parse(key: string, e: { id: string; fields: Record<string, string> }): RawRow | undefined {
    try {
      const row = parseStreamEntry(e, this.opts.schema);
      this.counts.rows++;
      return row;
    } catch (err) {
      if (!(err instanceof LineError)) throw err;
      this.counts.bad++;
      const where = `${key}@${e.id}`;
      if (this.counts.samples.length < MAX_SAMPLES) this.counts.samples.push(`${where}: ${err.reason}`);
      this.opts.onBad?.(where, err.reason);
      return undefined;
    }
  }
}
