/**
 * Splits the training files into data shards: byte ranges aligned to line starts by the
 * ownership rule of src/data/splits.ts, so workers read disjoint rows with no pre-pass. A gzip
 * file cannot seek and is one shard.
 */
import { stat } from 'node:fs/promises';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { isGzip } from '../data/line-reader';
import { splitByteRanges } from '../data/splits';
import { parseStreamUrl, partitionUrl } from '../stream/stream-url';
import type { DataShard } from '../control/job-types';

export interface DataFile {
  path: string;
  size: number;
  gzip: boolean;
}

/** Default bytes per data shard when no count is given: big enough to amortise a hand-off. */
export const DEFAULT_SHARD_BYTES = 64 << 20;

/**
 * Plans `count` shards (about; each plain file gets at least one, in proportion to its size),
 * or one per DEFAULT_SHARD_BYTES with at least `minShards` when `count` is undefined.
 */
export function planDataShards(files: readonly DataFile[], count?: number, minShards = 8): DataShard[] {
  if (files.length === 0) throw new TesseraError(ERROR_CODES.CONFIG, 'no training data files to shard');
  const plain = files.filter((f) => !f.gzip && f.size > 0);
  const total = plain.reduce((n, f) => n + f.size, 0);
  const want = count ?? Math.max(minShards, Math.ceil(total / DEFAULT_SHARD_BYTES));
  if (!Number.isSafeInteger(want) || want < 1) throw new TesseraError(ERROR_CODES.CONFIG, `data shard count must be a positive integer, got ${count}`);
  const shards: DataShard[] = [];
  for (const f of files) {
    if (f.gzip) {
      shards.push({ id: shards.length, path: f.path, start: 0, end: f.size, gzip: true });
      continue;
    }
    if (f.size === 0) continue;
    const n = Math.max(1, Math.round((want - (files.length - plain.length)) * (f.size / total)));
    for (const r of splitByteRanges(f.size, Math.min(n, f.size))) shards.push({ id: shards.length, path: f.path, start: r.start, end: r.end, gzip: false });
  }
  if (shards.length === 0) throw new TesseraError(ERROR_CODES.CONFIG, `training data is empty: ${files.map((f) => f.path).join(', ')}`);
  return shards;
}

/** Stats the files (comma-separated list allowed) for planDataShards. */
export async function describeDataFiles(paths: readonly string[]): Promise<DataFile[]> {
  return Promise.all(paths.map(async (path) => {
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch (err) {
      throw new TesseraError(ERROR_CODES.CONFIG, `training data ${path}: ${(err as Error).message}`);
    }
    return { path, size, gzip: size >= 2 && await isGzip(path) };
  }));
}

/**
 * The data shards of a stream job: one per partition `KEY:0` … `KEY:N-1` of the stream at
 * `source` (`redis-stream://HOST:PORT/KEY`).
 */
export function planStreamPartitions(source: string, partitions: number): DataShard[] {
  const url = parseStreamUrl(source);
  if (!Number.isSafeInteger(partitions) || partitions < 1) throw new TesseraError(ERROR_CODES.CONFIG, `--partitions must be a positive integer, got ${partitions}`);
  return Array.from({ length: partitions }, (_, id) => ({ id, path: partitionUrl(url, id), start: 0, end: 0, gzip: false, stream: true as const }));
}
