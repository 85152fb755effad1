/**
 * `tessera status`'s replication lines (issue 17, `ps.replication: buddy`): each PS of the shard
 * map that has a buddy is asked its lag (ReplicationStatus), with a short deadline; a PS that
 * does not answer shows `null` (it may be the one that just died).
 */
import { replicationCall } from '../wire/replication-client';
import { openTls, TlsConfig } from '../wire/tls';

/** One PS's replication as `tessera status` shows it. */
export interface ReplicaLag {
  ps: number;
  buddy: number;
  /** Seconds of pushes its buddy does not hold yet; null: the PS did not answer. */
  lag_s: number | null;
}

/** The lag of every PS in `ps` that has a buddy, asked at once (deadline `timeoutMs`). */
export async function replicaLags(ps: readonly { id: number; addr: string; buddy: number | null }[], tls: TlsConfig | null, timeoutMs = 2_000): Promise<ReplicaLag[]> {
  const ctx = tls ? openTls(tls) : null;
  return Promise.all(ps.filter((p) => p.buddy !== null).map(async (p) => {
    const credentials = ctx ? ctx.channelCredentials() : undefined;
    try {
      const r = await replicationCall<{ lagSeconds: number }>(p.addr, 'ReplicationStatus', {}, { credentials, timeoutMs });
      return { ps: p.id, buddy: p.buddy!, lag_s: r.lagSeconds };
    } catch {
      return { ps: p.id, buddy: p.buddy!, lag_s: null };
    }
  }));
}

/** The text line: `replication (buddy): ps 0 → ps 1 lag 0.08 s, ps 1 → ps 0 lag (no answer)`. */
export function replicaLagLine(lags: readonly ReplicaLag[]): string | null {
  if (lags.length === 0) return null;
  return `replication (buddy): ${lags.map((l) => `ps ${l.ps} → ps ${l.buddy} lag ${l.lag_s === null ? '(no answer)' : `${l.lag_s.toFixed(3)} s`}`).join(', ')}`;
}
