/**
 * Helpers for tests of a push applied by a PS whose answer never came (issue 17: failover and
 * migration dedup): a step that touches only what PS 0 holds, and a worker client that counts
 * the push answers it received on the wire.
 */
import { PsClient } from '../../src/client/ps-client';
import { silentLogger } from '../../src/common/logger';
import type { TableSpec } from '../../src/ps/store/table-spec';
import { denseBucket } from '../../src/sharding/dense-bucket';
import { ownerOf, ShardMap } from '../../src/sharding/shard-map';
import { DEFAULT_MAX_REQUEST_BYTES } from '../../src/wire/grpc-options';
import { PsConnection } from '../../src/wire/ps-connection';
import { gradsFor, idRange } from './checkpoint';

/** One training step: sparse rows of `emb` and one dense push. */
export interface Step {
  sparse: { table: string; ids: Uint32Array; grads: Float32Array }[];
  dense: { table: string; grads: Float32Array }[];
}

/** A dense table PS 0 holds at `map`, and step `r` over the ids of 0..399 that PS 0 holds, with that table. */
export function psZeroSteps(map: ShardMap, dim: number, denseSize: number): { dense: TableSpec; step: (r: number) => Step } {
  const name = ['mlp', 'mlp1', 'mlp2', 'mlp3', 'mlp4', 'mlp5'].find((n) => map.owner[denseBucket(n, map.numBuckets)] === 0)!;
  const dense: TableSpec = { name, kind: 'dense', size: denseSize, optimizer: { kind: 'sgd', lr: 0.1 }, seed: 3 };
  const all = idRange(0, 400);
  const mine = [...Array(400).keys()].filter((k) => ownerOf(map, all[2 * k], all[2 * k + 1]) === 0);
  const ids = Uint32Array.from(mine.flatMap((k) => [all[2 * k], all[2 * k + 1]]));
  const step = (r: number): Step => ({ sparse: [{ table: 'emb', ids, grads: gradsFor(mine.length, dim, r) }], dense: [{ table: name, grads: gradsFor(1, denseSize, r) }] });
  return { dense, step };
}

/**
 * A worker's client on `map` (2 pushes in flight, 5 s attempts, quick backoff) that re-reads the
 * map from `latest` and counts in `counter.acked` every push request some PS answered.
 */
export function countingWorker(map: ShardMap, latest: () => ShardMap, counter: { acked: number }): PsClient {
  return new PsClient({
    shardMap: map, logger: silentLogger(), maxInflightPushes: 2, latestMap: async () => latest(),
    callTimeoutMs: 5_000, backoff: { initialMs: 5, maxMs: 50, multiplier: 2 },
    connect: (addr) => {
      const conn = new PsConnection({ addr, maxMessageBytes: DEFAULT_MAX_REQUEST_BYTES * 2 });
      const push = conn.push.bind(conn);
      conn.push = async (req, timeoutMs) => {
        const res = await push(req, timeoutMs);
        counter.acked++;
        return res;
      };
      return conn;
    },
  });
}
