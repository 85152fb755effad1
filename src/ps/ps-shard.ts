/**
 * One shard server: a PsNode with its own tables and disk tier behind its own gRPC server.
 * `tessera ps` runs one in its main thread (`--shards 1`) or one per worker thread
 * (shard-thread.ts), the same way in both.
 */
import type { DataPlane } from '../wire/grpc-options';
import type { Registry } from 'prom-client';
import type { Logger } from '../common/logger';
import type { ConnectionLimits } from '../wire/connection-guard';
import type { TlsContext } from '../wire/tls';
import { PsNode } from './ps-node';
import { startPsServer } from './ps-server';
import { LmdbReplicaTiers } from './tier/lmdb-replica-tiers';
import { LmdbRowTier } from './tier/lmdb-row-tier';

/** What a shard serves and where; plain data, so it crosses to a worker thread as it is. */
export interface ShardSpec {
  /** 0-based place of this shard in its process. */
  shard: number;
  /** Its PS member id (shard-layout.ts). */
  id: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  maxRequestBytes: number;
  checkpointRoots: readonly string[];
  /** Its own disk-tier directory; null: no tier. */
  tierDir: string | null;
  connectionLimits: ConnectionLimits;
  /** What carries Pull/Push (ADR 0038); absent: grpc-js. */
  dataPlane?: DataPlane;
}

/** A running shard, wherever it runs. */
export interface ShardHandle {
  readonly shard: number;
  readonly id: string;
  /** "host:port" it is bound to. */
  readonly addr: string;
  /** Fences (a reason) or unfences (null) the shard's pushes; see PsNode.setFenced. */
  setFenced(reason: string | null): void;
  /** Stops its server gracefully, then closes its disk tier and its replicas' tiers. */
  stop(): Promise<void>;
}

/** Starts one shard in this thread. `registry` receives its PS metrics; `tls` serves mutual TLS. */
export async function startShard(spec: ShardSpec, deps: { logger: Logger; registry?: Registry; tls?: TlsContext }): Promise<ShardHandle> {
  // Opened lazily by the first table that spills, so a bad directory fails CreateTable, not the PS.
  const tier = spec.tierDir ? new LmdbRowTier({ dir: spec.tierDir }) : undefined;
  const replicaTiers = spec.tierDir ? new LmdbReplicaTiers({ dir: spec.tierDir }) : undefined;
  const closeTiers = async (): Promise<void> => { await tier?.close(); await replicaTiers?.close(); };
  const node = new PsNode({ config: { maxRequestBytes: spec.maxRequestBytes }, logger: deps.logger, tier, replicaTiers });
  const server = await startPsServer({
    host: spec.host, port: spec.port, maxRequestBytes: spec.maxRequestBytes, logger: deps.logger, metrics: deps.registry, node,
    checkpointRoots: spec.checkpointRoots, connectionLimits: spec.connectionLimits, tls: deps.tls,
    dataPlane: spec.dataPlane,
  }).catch(async (err: unknown) => { await closeTiers(); throw err; });
  return {
    shard: spec.shard, id: spec.id, addr: server.addr,
    setFenced: (reason) => node.setFenced(reason),
    stop: async () => {
      await server.stop();
      await closeTiers();
    },
  };
}
