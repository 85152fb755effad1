/**
 * How one PS process with `--shards K` lays out its K shard servers. Pure.
 *
 * Each shard is a PS of its own in the shard map, so it needs its own number, port, advertised
 * address and disk-tier directory. Numbers: the process with id `ps-N` runs the shards numbered
 * N·K … N·K+K-1 (`ps-{N·K+k}`), so StatefulSet pods `tessera-ps-0, -1, …` each running K shards
 * give the dense PS numbers 0 … replicas·K-1 the chief expects (`tessera chief --ps replicas·K`).
 * With K = 1 everything is the process's own, unchanged.
 *
 * ```ts
 * shardMemberIds('ps-1', 2);            // ['ps-2', 'ps-3']
 * shardPort(7000, 1);                    // 7001 (0 stays 0: each shard picks a free port)
 * shardAdvertise('tessera-ps-1.tessera-ps:7000', 1); // 'tessera-ps-1.tessera-ps:7001'
 * ```
 */
import * as path from 'node:path';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { psNumber } from '../sharding/ps-number';

/** The member ids of a process's `shards` shards, shard 0 first. */
export function shardMemberIds(id: string, shards: number): string[] {
  if (shards === 1) return [id];
  const n = psNumber(id);
  const prefix = id.slice(0, id.length - /(\d+)$/.exec(id)![1].length);
  return Array.from({ length: shards }, (_, k) => `${prefix}${n * shards + k}`);
}

/** Shard `k`'s port: `port + k`, or 0 (a free one) when `port` is 0. */
export function shardPort(port: number, k: number): number {
  if (port === 0) return 0;
  if (port + k > 65535) {
    throw new TesseraError(ERROR_CODES.CONFIG, `--port ${port} with shard ${k} needs port ${port + k}, above 65535; pick a lower --port or fewer --shards`);
  }
  return port + k;
}

/** Shard `k`'s advertised "host:port": the process's, with the port moved up by `k` like shardPort. */
export function shardAdvertise(advertise: string, k: number): string {
  if (k === 0) return advertise;
  const colon = advertise.lastIndexOf(':');
  const port = Number(advertise.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port <= 0) {
    throw new TesseraError(ERROR_CODES.CONFIG, `--advertise "${advertise}" must be host:port (with --shards, shard k advertises port+k)`);
  }
  return `${advertise.slice(0, colon)}:${shardPort(port, k)}`;
}

/** Shard `k`'s disk-tier directory: the process's own with one shard, `DIR/shard-<k>` with several. */
export function shardTierDir(dir: string | null, k: number, shards: number): string | null {
  return dir === null || shards === 1 ? dir : path.join(dir, `shard-${k}`);
}
