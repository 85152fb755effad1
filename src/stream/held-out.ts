/**
 * A stream job's held-out slice: the partition `KEY:eval`, which `tessera replay` fills with
 * every k-th event instead of a training partition (so no event is both trained on and
 * evaluated on). The chief evaluates on its newest entries every `--eval-every` seconds.
 */
import { LineError } from '../data/parsers';
import type { RawRow, RowSchema } from '../data/record';
import { parseStreamEntry } from './stream-entry';
import type { StreamLog } from './stream-log';
import { EVAL_PARTITION, partitionKey } from './stream-url';

/** Held-out entries evaluated at a time: the newest ones, so the figure follows the stream. */
export const HELD_OUT_ROWS = 10_000;

/** The newest `count` held-out rows of the stream `key` (bad entries skipped). */
export async function heldOutRows(log: StreamLog, key: string, schema: RowSchema, count = HELD_OUT_ROWS): Promise<RawRow[]> {
  const rows: RawRow[] = [];
  for (const e of await log.newest(partitionKey(key, EVAL_PARTITION), count)) {
    try {
      rows.push(parseStreamEntry(e, schema));
    } catch (err) {
      if (!(err instanceof LineError)) throw err; // counted where it was written; evaluation just skips it
    }
  }
  return rows;
}
