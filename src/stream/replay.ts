/**
 * `tessera replay`'s engine: appends the lines of a data file to a stream's partitions, round
 * robin (line i to partition i mod N), in pipelined chunks, as fast as possible or paced to a
 * rate. With `holdout` k, every k-th line goes to the held-out partition `KEY:eval` instead, so
 * the chief evaluates on events no worker trains on.
 */
import { delay } from '../common/backoff';
import { readLineBatches } from '../data/line-reader';
import { AVAZU_HEADER } from '../data/record';
import { LINE_FIELD } from './stream-entry';
import type { StreamLog } from './stream-log';
import { EVAL_PARTITION, partitionKey } from './stream-url';

/** Entries per pipelined round trip when not paced: large enough to amortise it, small enough to stream. */
export const REPLAY_CHUNK = 1_000;
/** Paced chunks per second: smooth enough that a consumer sees a steady rate. */
const PACED_CHUNKS_PER_S = 20;

export interface ReplayOptions {
  key: string;
  partitions: number;
  /** Events per second; undefined: as fast as possible. */
  rate?: number;
  /** Every k-th line to `KEY:eval`; 0: none. */
  holdout?: number;
  /** Checked before each chunk: true ends the replay early (what was written stays written). */
  stop?: () => boolean;
  now?: () => number;
}

/** What a replay wrote. */
export interface ReplayResult {
  /** Events written to the training partitions, per partition. */
  perPartition: number[];
  /** Events written to the held-out partition. */
  heldOut: number;
  seconds: number;
}

/** Appends every non-blank line of `file` (an Avazu header excepted) to the stream. */
export async function replayFile(file: string, log: StreamLog, o: ReplayOptions): Promise<ReplayResult> {
  const now = o.now ?? Date.now;
  const started = now();
  const out: ReplayResult = { perPartition: new Array<number>(o.partitions).fill(0), heldOut: 0, seconds: 0 };
  const chunkSize = o.rate === undefined ? REPLAY_CHUNK : Math.max(1, Math.min(REPLAY_CHUNK, Math.round(o.rate / PACED_CHUNKS_PER_S)));
  let chunk: { key: string; fields: Record<string, string> }[] = [];
  let seen = 0;
  let written = 0;
  const send = async (): Promise<void> => {
    if (chunk.length === 0) return;
    await log.append(chunk);
    written += chunk.length;
    chunk = [];
    // Paced: the n-th event is not written before n / rate seconds have passed.
    if (o.rate !== undefined) await delay(Math.max(0, (1000 * written) / o.rate - (now() - started)));
  };
  for await (const lines of readLineBatches(file)) {
    for (const { line, offset } of lines) {
      const text = line.endsWith('\r') ? line.slice(0, -1) : line;
      if (text.length === 0 || (offset === 0 && text === AVAZU_HEADER)) continue;
      seen++;
      let key: string;
      if (o.holdout && seen % o.holdout === 0) {
        key = partitionKey(o.key, EVAL_PARTITION);
        out.heldOut++;
      } else {
        const p = (seen - out.heldOut - 1) % o.partitions;
        key = partitionKey(o.key, p);
        out.perPartition[p]++;
      }
      chunk.push({ key, fields: { [LINE_FIELD]: text } });
      if (chunk.length >= chunkSize) await send();
      if (o.stop?.()) break;
    }
    if (o.stop?.()) break;
  }
  await send();
  out.seconds = (now() - started) / 1000;
  return out;
}
