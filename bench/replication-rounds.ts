/**
 * bench:ps `--replication R` (issue 17): the cost of buddy replication, in R alternating rounds on
 * fresh pairs of `tessera ps` processes, replication off then on (each PS the other's buddy), the
 * same client each time; per round pull and push rows/s, the PS processes' CPU per row (and, of the push
 * phase alone, the PS and client CPU per row pushed), and for
 * `on` the replication lag at the end of the run and the time to promote the replica after a
 * kill -9 (the chief's part of recovery; etcd's lease TTL comes before it).
 */
import * as fs from 'fs';
import { spawnPs } from '../src/local/ps-process';
import { bucketsOwnedBy, planShardMap } from '../src/sharding/shard-map';
import { replicationCall } from '../src/wire/replication-client';

type ClientFigures = Record<string, number | number[]>;

/** One round's figures. */
export interface ReplicationRound {
  replication: 'none' | 'buddy';
  pull_rows_per_s: number;
  push_rows_per_s: number;
  /** PS CPU (both processes, user + system) per row pulled or pushed, µs. */
  ps_cpu_us_per_row: number;
  /** Of the push phase alone: both PS processes' CPU per row pushed, µs (replication's cost lands here). */
  ps_push_cpu_us_per_row: number;
  /** Of the push phase alone: the client's CPU per row pushed, µs. */
  client_push_cpu_us_per_row: number;
  lag_s?: number;
  promote_ms?: number;
}

/** User + system CPU seconds of process `pid` so far (Linux /proc). */
function cpuSeconds(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

async function round(mode: 'none' | 'buddy', seconds: number, client: (addrs: string[], psPids: number[]) => Promise<ClientFigures>): Promise<ReplicationRound> {
  const ps = await Promise.all([0, 1].map((i) => spawnPs({ args: ['--id', `ps-${i}`, '--log-level', 'warn'] })));
  try {
    const addrs = ps.map((p) => p.addr);
    if (mode === 'buddy') {
      await Promise.all([0, 1].map((i) => replicationCall(addrs[i], 'ConfigureReplication', {
        selfId: i, buddyAddr: addrs[1 - i], buddyId: 1 - i, primaries: Buffer.from(Uint32Array.of(1 - i).buffer), shardMapVersion: 0,
      })));
    }
    const cpu0 = ps.reduce((s, p) => s + cpuSeconds(p.proc.pid!), 0);
    const f = await client(addrs, ps.map((p) => p.proc.pid!));
    const cpu = ps.reduce((s, p) => s + cpuSeconds(p.proc.pid!), 0) - cpu0;
    const pull = f.pull_rows_per_s as number;
    const push = f.push_rows_per_s as number;
    // CPU ms per 1,000 rows is µs per row.
    const out: ReplicationRound = {
      replication: mode, pull_rows_per_s: Math.round(pull), push_rows_per_s: Math.round(push), ps_cpu_us_per_row: Number(((1e6 * cpu) / ((pull + push) * seconds)).toFixed(3)),
      ps_push_cpu_us_per_row: Number((f.ps_push_cpu_ms_per_1k_rows as number).toFixed(3)), client_push_cpu_us_per_row: Number((f.client_push_cpu_ms_per_1k_rows as number).toFixed(3)),
    };
    if (mode === 'buddy') {
      out.lag_s = (await replicationCall<{ lagSeconds: number }>(addrs[1], 'ReplicationStatus', {})).lagSeconds;
      await ps[1].kill();
      const buckets = bucketsOwnedBy(planShardMap(addrs.map((addr, id) => ({ id, addr }))), 1);
      const t0 = performance.now();
      await replicationCall(addrs[0], 'PromoteReplica', { primaryId: 1, buckets: Buffer.from(Uint32Array.from(buckets).buffer) }, { timeoutMs: 600_000 });
      out.promote_ms = Math.round(performance.now() - t0);
    }
    return out;
  } finally {
    await Promise.all(ps.map((p) => (p.proc.exitCode === null && p.proc.signalCode === null ? p.stop() : undefined)));
  }
}

/** R alternating off/on rounds; lines for the report and figures for the JSON summary. */
export async function replicationRounds(rounds: number, seconds: number, client: (addrs: string[], psPids: number[]) => Promise<ClientFigures>) {
  const all: ReplicationRound[] = [];
  for (let r = 0; r < rounds; r++) {
    all.push(await round('none', seconds, client));
    all.push(await round('buddy', seconds, client));
  }
  const med = (mode: string, k: 'pull_rows_per_s' | 'push_rows_per_s' | 'ps_cpu_us_per_row' | 'ps_push_cpu_us_per_row' | 'client_push_cpu_us_per_row') => {
    const xs = all.filter((x) => x.replication === mode).map((x) => x[k]).sort((a, b) => a - b);
    return xs[Math.floor(xs.length / 2)];
  };
  const ratio = (k: 'pull_rows_per_s' | 'push_rows_per_s') => Number((med('buddy', k) / med('none', k)).toFixed(3));
  const figures = {
    replication_rounds: all, replication_pull_ratio: ratio('pull_rows_per_s'), replication_push_ratio: ratio('push_rows_per_s'),
    replication_cpu_us_per_row_off: med('none', 'ps_cpu_us_per_row'), replication_cpu_us_per_row_on: med('buddy', 'ps_cpu_us_per_row'),
    replication_ps_push_cpu_us_per_row_off: med('none', 'ps_push_cpu_us_per_row'), replication_ps_push_cpu_us_per_row_on: med('buddy', 'ps_push_cpu_us_per_row'),
    replication_client_push_cpu_us_per_row: med('none', 'client_push_cpu_us_per_row'),
  };
  const lines = all.map((x) => `replication ${x.replication}: pull ${(x.pull_rows_per_s / 1e6).toFixed(2)} M rows/s  push ${(x.push_rows_per_s / 1e6).toFixed(2)} M rows/s  PS CPU ${x.ps_cpu_us_per_row} µs/row`
    + `  push phase CPU per pushed row: PS ${x.ps_push_cpu_us_per_row} µs, client ${x.client_push_cpu_us_per_row} µs`
    + (x.lag_s === undefined ? '' : `  lag at end ${x.lag_s.toFixed(3)} s  promote after kill -9 ${x.promote_ms} ms`));
  lines.push(`replication buddy over none (medians of ${rounds} alternating rounds): pull ${figures.replication_pull_ratio}×, push ${figures.replication_push_ratio}×;`
    + ` push-phase PS CPU per pushed row ${figures.replication_ps_push_cpu_us_per_row_off} → ${figures.replication_ps_push_cpu_us_per_row_on} µs (client ${figures.replication_client_push_cpu_us_per_row} µs)`);
  return { figures, lines };
}
