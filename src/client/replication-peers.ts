/**
 * The chief's calls to the PS for buddy replication (issue 17), over gRPC: ConfigureReplication,
 * PromoteReplica and ReplicationStatus on a PS's PsReplication service. The chief's BuddyKeeper
 * takes them through its `ReplicationPeers` interface, so it stays free of transport.
 */
import type { ChannelCredentials } from '@grpc/grpc-js';
import { replicationCall } from '../wire/replication-client';

const u32Bytes = (xs: readonly number[]): Buffer => Buffer.from(Uint32Array.from(xs).buffer);

/** PsReplication calls over gRPC, presenting `credentials` (the chief's identity). */
export class GrpcReplicationPeers {
  constructor(private readonly opts: { credentials?: ChannelCredentials } = {}) {}

  /** Tells the PS at `addr` its id, its buddy (none: null) and whose replicas it keeps. */
  async configure(addr: string, req: { selfId: number; buddy: { id: number; addr: string } | null; primaries: readonly number[]; shardMapVersion: number }): Promise<void> {
    await replicationCall(addr, 'ConfigureReplication', {
      selfId: req.selfId, buddyAddr: req.buddy?.addr ?? '', buddyId: req.buddy?.id ?? 0, primaries: u32Bytes(req.primaries), shardMapVersion: req.shardMapVersion,
    }, this.opts);
  }

  /** Promotes, on the buddy at `addr`, its replica of dead PS `primaryId` for `buckets`. */
  async promote(addr: string, primaryId: number, buckets: readonly number[]): Promise<{ rows: number; pushesApplied: number; appliedAtMs: number; identities: number }> {
    return replicationCall(addr, 'PromoteReplica', { primaryId, buckets: u32Bytes(buckets) }, { ...this.opts, timeoutMs: 600_000 });
  }

  /** The replication lag of the PS at `addr` as a primary, seconds. */
  async lagSeconds(addr: string): Promise<number> {
    return (await replicationCall<{ lagSeconds: number }>(addr, 'ReplicationStatus', {}, { ...this.opts, timeoutMs: 5_000 })).lagSeconds;
  }
}
