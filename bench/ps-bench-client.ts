/**
 * The client half of bench:ps, run as its own process: pulls and pushes through PsClient
 * against running PS processes and prints one JSON line of figures.
 * Usage: node dist/bench/ps-bench-client.js ADDR[,ADDR...] SECONDS INFLIGHT ENCODING SAMPLE_EVERY [TLS_DIR]
 *
 * SAMPLE_EVERY > 0 measures push staleness as a worker does: one pull in SAMPLE_EVERY asks for
 * row versions, one push in SAMPLE_EVERY sends the versions its batch was last read at, and the
 * staleness the client works out is tallied as the worker's histogram tallies it.
 * With TLS_DIR (made by `tessera certs init`), it sets up as `admin` and pulls and pushes as
 * `worker-0` over mutual TLS, as the roles would.
 * TESSERA_DATA_PLANE (grpc-js | http2) picks what carries its pulls and pushes (ADR 0038).
 * BENCH_PS_PIDS (comma-separated) names the PS processes whose CPU time (/proc/PID/stat) it
 * reports for its pull and push phases beside its own (process.cpuUsage).
 */
import * as path from 'path';
import type { ChannelCredentials } from '@grpc/grpc-js';
import { readFileSync } from 'fs';
import { httpsClientOptions, loadTlsConfig, openTls, TlsConfig } from '../src/wire/tls';
import { tuneHeapGrowth } from '../src/common/heap-growth';
import { loadDataPlane } from '../src/wire/grpc-options';
import { silentLogger } from '../src/common/logger';
import { planShardMap } from '../src/sharding/shard-map';
import { PsClient } from '../src/client/ps-client';
import { StalenessTally } from '../src/control/push-staleness';
import { replicationCall } from '../src/wire/replication-client';
import { zipfBatches } from './zipf-ids';

const BATCH = 8192;
const DIM = 16;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

/** Runs `inflight` concurrent loops of `op` for `seconds`; returns ops done and latencies. */
async function drive(seconds: number, inflight: number, op: (k: number, lane: number) => Promise<void>) {
  const lat: number[] = [];
  let done = 0;
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inflight }, async (_, lane) => {
    for (let k = lane; performance.now() < end; k += inflight) {
      const s = performance.now();
      await op(k, lane);
      lat.push(performance.now() - s);
      done++;
    }
  }));
  return { done, seconds: (performance.now() - t0) / 1000, lat: lat.sort((a, b) => a - b) };
}

/**
 * Resolves once no PS at `addrs` has pushes its buddy lacks (ReplicationStatus lag 0; at once
 * without replication), polling every 20 ms; rejects after 60 s.
 */
async function replicasCaughtUp(addrs: string[], credentials: ChannelCredentials | undefined): Promise<void> {
  const deadline = performance.now() + 60_000;
  for (;;) {
    const lags = await Promise.all(addrs.map((a) => replicationCall<{ lagSeconds: number }>(a, 'ReplicationStatus', {}, { credentials })));
    if (lags.every((l) => l.lagSeconds === 0)) return;
    if (performance.now() > deadline) throw new Error(`replication did not catch up in 60 s (lag ${lags.map((l) => l.lagSeconds).join(', ')} s)`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** CPU ms (user + system) the processes `pids` have used so far, from /proc (clock ticks of 10 ms). */
function procCpuMs(pids: number[]): number {
  return pids.reduce((sum, pid) => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from the 3rd on
    return sum + (Number(fields[11]) + Number(fields[12])) * 10;
  }, 0);
}

/** CPU ms this process has used so far. */
function ownCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

async function main(): Promise<void> {
  const [addrs, secondsArg, inflightArg, encoding, everyArg, tlsDir] = process.argv.slice(2);
  const seconds = Number(secondsArg);
  const inflight = Number(inflightArg);
  const every = Number(everyArg ?? '0');
  const map = planShardMap(addrs.split(',').map((addr, id) => ({ id, addr })));
  const dataPlane = loadDataPlane(process.env, undefined);
  tuneHeapGrowth(process.env); // as `tessera worker` does: this client stands in for a worker's data client
  const pids = (process.env.BENCH_PS_PIDS ?? '').split(',').filter((p) => p !== '').map(Number);
  const tlsOf = (name: string): TlsConfig | null => (tlsDir
    ? loadTlsConfig({}, { cert: path.join(tlsDir, `${name}.crt`), key: path.join(tlsDir, `${name}.key`), ca: path.join(tlsDir, 'ca.crt') }) : null);
  const creds = (name: string): ChannelCredentials | undefined => {
    const tls = tlsOf(name);
    return tls ? openTls(tls).channelCredentials() : undefined;
  };
  const workerTls = tlsOf('worker-0');
  const admin = new PsClient({ shardMap: map, logger: silentLogger(), credentials: creds('admin') });
  await admin.waitReady();
  await admin.admin.installShardMap();
  await admin.admin.createTable({ name: 'bench', kind: 'embedding', dim: DIM, optimizer: { kind: 'adagrad', lr: 0.05 } });
  const tally = new StalenessTally();
  const client = new PsClient({
    shardMap: map, logger: silentLogger(), maxInflightPushes: inflight, encoding: encoding === 'f16' ? 'f16' : 'f32', credentials: creds('worker-0'),
    dataPlane, http2Tls: workerTls ? () => httpsClientOptions(workerTls) : undefined,
    stalenessSampleEvery: every, onStaleness: (u) => tally.observe(u),
  });
  await client.waitReady();
  const batches = zipfBatches(64, BATCH);
  const grads = new Float32Array(BATCH * DIM).fill(0.01);
  // The versions each batch was last pulled at (sampled pulls refresh them; sampled pushes send them).
  const read = batches.map(() => new Uint32Array(BATCH));
  for (const [b, ids] of batches.entries()) await client.data.pull('bench', ids, DIM, every > 0 ? { versions: read[b] } : {}); // create the rows, warm up
  // Each row pushed once too, and held by the buddy where there is one, before anything is
  // measured: the push phase is then steady-state pushes, not the replica creating its rows (a
  // cost per new row, as the pulls above are on the PS itself; ADR 0037, amendment 3).
  for (const ids of batches) await client.data.push('bench', ids, grads);
  await client.data.flush();
  await replicasCaughtUp(addrs.split(','), creds('admin'));
  // Each lane pulls into its own reused buffer, as a worker double-buffering its batches would.
  const outs = Array.from({ length: inflight }, () => new Float32Array(BATCH * DIM));
  const cpu0 = { own: ownCpuMs(), ps: procCpuMs(pids) };
  const pull = await drive(seconds, inflight, async (k, lane) => {
    const b = k % batches.length;
    const versions = client.data.sampleStaleness() ? read[b] : undefined;
    await client.data.pull('bench', batches[b], DIM, { out: outs[lane], versions });
  });
  const cpu1 = { own: ownCpuMs(), ps: procCpuMs(pids) };
  const t0 = performance.now();
  let pushes = 0;
  for (let k = 0; performance.now() - t0 < seconds * 1000; k++, pushes++) {
    const b = k % batches.length;
    await client.data.push('bench', batches[b], grads, client.data.sampleStaleness() ? read[b] : undefined);
  }
  await client.data.flush();
  const pushSeconds = (performance.now() - t0) / 1000;
  const cpu2 = { own: ownCpuMs(), ps: procCpuMs(pids) };
  const stats = await admin.admin.stats();
  client.close();
  admin.close();
  process.stdout.write(`${JSON.stringify({
    pull_rows_per_s: (pull.done * BATCH) / pull.seconds,
    push_rows_per_s: (pushes * BATCH) / pushSeconds,
    pull_p50_ms: percentile(pull.lat, 0.5),
    pull_p99_ms: percentile(pull.lat, 0.99),
    rows_per_ps: stats.map((s) => s.tables[0]?.rows ?? 0),
    staleness_rows_measured: tally.counts.reduce((a, c) => a + c, 0),
    data_plane: dataPlane,
    // CPU ms per 1,000 rows moved, in this client and summed over the PS processes.
    client_pull_cpu_ms_per_1k_rows: (cpu1.own - cpu0.own) / (pull.done * BATCH / 1000),
    client_push_cpu_ms_per_1k_rows: (cpu2.own - cpu1.own) / (pushes * BATCH / 1000),
    ps_pull_cpu_ms_per_1k_rows: pids.length ? (cpu1.ps - cpu0.ps) / (pull.done * BATCH / 1000) : null,
    ps_push_cpu_ms_per_1k_rows: pids.length ? (cpu2.ps - cpu1.ps) / (pushes * BATCH / 1000) : null,
  })}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
