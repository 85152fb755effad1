/**
 * Criteo DAC TSV encoding straight into large Buffers, and a chunk writer that honours stream
 * backpressure. One `write` per CHUNK_BYTES, never one per row or per field.
 */
import type { Writable } from 'node:stream';
import { FeatureRow, NUM_CATEGORICAL, NUM_INTEGER } from './rows';
import type { TokenCodec } from './tokens';

/** Bytes per stream write: large enough that per-write overhead vanishes. */
export const CHUNK_BYTES = 1 << 20;
/**
 * Upper bound of one encoded line: label + 13 × (tab + ≤ 10 digits) + 26 × (tab + ≤ 10 hex) +
 * newline = 431 bytes; rounded up.
 */
export const MAX_LINE_BYTES = 512;

const TAB = 9;
const NEWLINE = 10;
const ZERO = 48;

/** Writes the decimal digits of a non-negative integer below 2^53; returns the new position. */
function writeUint(buf: Buffer, pos: number, v: number): number {
  let digits = 1;
  for (let t = v; t >= 10; t = Math.floor(t / 10)) digits++;
  for (let i = pos + digits - 1; i >= pos; i--) {
    buf[i] = ZERO + (v % 10);
    v = Math.floor(v / 10);
  }
  return pos + digits;
}

/**
 * Encodes one line `label \t I1..I13 \t C1..C26 \n` at `buf[pos]` (the caller guarantees
 * MAX_LINE_BYTES of room); missing fields are empty. Returns the position after the newline.
 *
 * ```ts
 * pos = encodeCriteoLine(buf, pos, 1, row, codecs);
 * ```
 */
export function encodeCriteoLine(buf: Buffer, pos: number, label: number, row: FeatureRow, codecs: readonly TokenCodec[]): number {
  buf[pos++] = ZERO + label;
  for (let i = 0; i < NUM_INTEGER; i++) {
    buf[pos++] = TAB;
    const v = row.numeric[i];
    if (v === v) pos = writeUint(buf, pos, v); // NaN (missing) stays empty
  }
  for (let j = 0; j < NUM_CATEGORICAL; j++) {
    buf[pos++] = TAB;
    const rank = row.ranks[j];
    if (rank !== 0) pos = codecs[j].write(buf, pos, rank);
  }
  buf[pos++] = NEWLINE;
  return pos;
}

/**
 * Resolves on 'drain'; rejects if the stream errors or closes first (so a failed disk never
 * leaves the generator waiting forever).
 */
function waitDrain(stream: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      stream.off('drain', onDrain);
      stream.off('error', onError);
      stream.off('close', onClose);
    };
    const onDrain = (): void => {
      cleanup();
      resolve();
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onClose = (): void => {
      cleanup();
      reject(stream.errored ?? new Error('output stream closed before it drained'));
    };
    stream.on('drain', onDrain);
    stream.on('error', onError);
    stream.on('close', onClose);
  });
}

/**
 * Writes `chunk` to `stream`, waiting for 'drain' when the stream's buffer is full. Memory stays
 * bounded by the stream's highWaterMark plus one chunk.
 * @throws the stream's error if it has failed.
 */
export async function writeChunk(stream: Writable, chunk: Buffer): Promise<void> {
  if (stream.destroyed) throw stream.errored ?? new Error('output stream is closed');
  if (!stream.write(chunk)) await waitDrain(stream);
}
