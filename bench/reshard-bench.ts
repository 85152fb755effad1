/**
 * bench:reshard — live resharding (issue 17) between real `tessera ps` processes, beside the
 * raw-TCP limit measured in the same run:
 *
 *   npm run bench:reshard -- [--json] [--rows N] [--seconds S]
 *
 * Setup: 2 PS processes own one embedding table of N rows (default 10M), dim 16, Adagrad; a third
 * PS joins. A synthetic trainer (pull then push of 4,096 random existing rows per step, through a
 * PsClient) runs for S seconds before, then during three migrations driven with the chief's RPC
 * sequence (the chief's own rounds, chief/migration-rounds.ts: copy, catch-up tails, every
 * source fenced together; then SetShardMap, EndMigration; no etcd commit): 2 → 3 PS, then ps-2
 * drained back in two steps. Reported: rows moved per second by the copy rounds (PS-to-PS) and the
 * raw-TCP limit for the same bytes; the fence pause per source (fencing SendTail sent to the new
 * map on that source and its target: the time pushes to its moving buckets wait; also until every
 * PS has it, `fence_all_ps_*`), p50 and max, and its stages
 * (`fence_stages_ms`: the fenced round on the source, the rest of the SendTail call, waiting for
 * the other sources, the commit, the install); trainer steps/s during
 * the migrations as a share of before. The last stdout line with --json is
 * `{"bench":"reshard","rows_moved_per_s","tcp_limit_rows_per_s","fence_p50_ms","fence_max_ms","fence_stages_ms","train_share",...}`.
 * Recovery after kill -9 from a replica is not measured: buddy replication is not built.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { silentLogger } from '../src/common/logger';
import { TesseraError } from '../src/common/errors';
import { fenceOf, FenceStages, runRounds } from '../src/chief/migration-rounds';
import { GrpcMigrationPeers } from '../src/client/migration-peers';
import { PsClient } from '../src/client/ps-client';
import { PsProcess, spawnPs } from '../src/local/ps-process';
import { nextMigrationStep, withIdlePs } from '../src/sharding/migration-step';
import { planShardMap, ShardMap } from '../src/sharding/shard-map';
import { argNum } from './bench-args';
import { measureTcpRequestResponse } from './peers/tcp-echo';

const DIM = 16;
const FILL_BATCH = 65_536;
const STEP_ROWS = 4096;
/** Bytes of one moved row: id, f32 weights, Adagrad state. */
const ROW_BYTES = 8 + DIM * 4 + DIM * 4;
const TABLE = { name: 'emb', kind: 'embedding' as const, dim: DIM, optimizer: { kind: 'adagrad' as const, lr: 0.05 } };

function idsOf(from: number, n: number): Uint32Array {
  const ids = new Uint32Array(2 * n);
  for (let i = 0; i < n; i++) {
    ids[2 * i] = Math.imul(from + i, 2654435761) >>> 0;
    ids[2 * i + 1] = (from + i) >>> 5;
  }
  return ids;
}

function clientOf(map: ShardMap, inflight = 4): PsClient {
  return new PsClient({ shardMap: map, logger: silentLogger(), maxInflightPushes: inflight, callTimeoutMs: 120_000 });
}

async function fill(client: PsClient, rows: number): Promise<void> {
  const grads = new Float32Array(FILL_BATCH * DIM).map((_, i) => Math.sin(i) * 0.01);
  for (let a = 0; a < rows; a += FILL_BATCH) {
    const n = Math.min(FILL_BATCH, rows - a);
    const ids = idsOf(a, n);
    await client.data.pull('emb', ids, DIM);
    await client.data.push('emb', ids, grads.subarray(0, n * DIM));
  }
  await client.data.flush();
}

/**
 * The trainer: pull + push of STEP_ROWS random rows per step until `stop()`; on a stale map it
 * moves to `map()` (the one the migration installed), as a worker refreshes its map.
 */
function trainer(rows: number, map: () => ShardMap): { steps: () => number; stop: () => Promise<void> } {
  let steps = 0;
  let running = true;
  let client = clientOf(map());
  const grads = new Float32Array(STEP_ROWS * DIM).fill(0.001);
  const loop = (async () => {
    for (let s = 0; running; s++) {
      const ids = idsOf((Math.imul(s, 40503) >>> 0) % Math.max(1, rows - STEP_ROWS), STEP_ROWS);
      try {
        await client.data.pull('emb', ids, DIM);
        await client.data.push('emb', ids, grads);
        steps++;
      } catch (err) {
        if (!(err instanceof TesseraError)) throw err;
        // Refused as stale: the new map is being installed; take it once the migration names it.
        if (client.map.version === map().version) await new Promise((r) => setTimeout(r, 5));
        else {
          client.close();
          client = clientOf(map());
        }
      }
    }
    await client.data.flush().catch(() => undefined);
    client.close();
  })();
  return { steps: () => steps, stop: async () => { running = false; await loop; } };
}

interface MigrationFigures { copyRows: number; copyS: number; fenceMs: number[]; fenceAllMs: number[]; fencedRoundMs: number[]; fencedRows: number; tails: number; stages: FenceStages[] }

/** One migration from `from` to `to`, the chief's sequence (migration-driver.ts) without etcd. */
async function migrate(peers: GrpcMigrationPeers, from: ShardMap, to: ShardMap, moves: { from: number; to: number; buckets: number[] }[], installed: () => void): Promise<MigrationFigures> {
  const id = `mig-v${to.version}`;
  const addr = (ps: number) => [...from.ps, ...to.ps].find((p) => p.id === ps)!.addr;
  await peers.install(withIdlePs(from, to.ps));
  const creator = clientOf(to);
  await creator.admin.createTable(TABLE);
  creator.close();
  const now = () => performance.now();
  const sources = await runRounds(peers, { id, fromVersion: from.version, now, moves: moves.map((m) => ({ source: addr(m.from), sourceId: m.from, target: addr(m.to), buckets: m.buckets })) });
  const committed = now(); // no etcd here: the commit is the chief's one transaction
  const installedAt = new Map<string, number>();
  await peers.install(withIdlePs(to, from.ps), (a) => installedAt.set(a, now()));
  const at = now();
  installed();
  await Promise.all([...new Set([...from.ps, ...to.ps].map((p) => p.addr))].map((a) => peers.end(a, id, true)));
  return {
    copyRows: sources.reduce((n, s) => n + s.copyRows, 0), copyS: Math.max(...sources.map((s) => s.copyMs)) / 1000,
    fenceMs: sources.map((s) => fenceOf(s, sources, committed, (a) => installedAt.get(a)!).fenceMs), fenceAllMs: sources.map((s) => at - s.fencedAt), fencedRoundMs: sources.map((s) => s.fencedRoundMs),
    fencedRows: sources.reduce((n, s) => n + s.fencedRows, 0), tails: sources.reduce((n, s) => n + s.tails, 0),
    stages: sources.map((s) => fenceOf(s, sources, committed, (a) => installedAt.get(a)!).stages),
  };
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const rows = argNum('rows', 10_000_000);
  const seconds = argNum('seconds', 5);
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-reshard-'));
  const ps: PsProcess[] = await Promise.all([0, 1, 2].map((i) => spawnPs({ args: ['--id', `ps-${i}`, '--log-level', 'warn'], logFile: path.join(logDir, `ps-${i}.log`) })));
  process.stderr.write(`PS logs in ${logDir}\n`);
  const peers = new GrpcMigrationPeers({ logger: silentLogger() });
  try {
    let map = planShardMap(ps.slice(0, 2).map((p, id) => ({ id, addr: p.addr })));
    const setup = clientOf(map);
    await setup.admin.installShardMap();
    await setup.admin.createTable(TABLE);
    const tf = performance.now();
    await fill(setup, rows);
    setup.close();
    const fillS = (performance.now() - tf) / 1000;

    const before = trainer(rows, () => map);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    await before.stop();
    const beforeRate = before.steps() / seconds;

    const during = trainer(rows, () => map);
    const t0 = performance.now();
    const all: MigrationFigures[] = [];
    const wanted = [map.ps.concat({ id: 2, addr: ps[2].addr }), map.ps];
    for (const desired of wanted) {
      for (let step = nextMigrationStep(map, desired); step; step = nextMigrationStep(map, desired)) {
        all.push(await migrate(peers, map, step.to, step.moves, () => { map = step.to; }));
      }
    }
    const migS = (performance.now() - t0) / 1000;
    await during.stop();
    const duringRate = during.steps() / migS;

    const copyRows = all.reduce((n, f) => n + f.copyRows, 0);
    const copyS = all.reduce((n, f) => n + f.copyS, 0);
    const fences = all.flatMap((f) => f.fenceMs).sort((a, b) => a - b);
    const fencesAll = all.flatMap((f) => f.fenceAllMs).sort((a, b) => a - b);
    const rounds = all.flatMap((f) => f.fencedRoundMs).sort((a, b) => a - b);
    const fencedRows = all.reduce((n, f) => n + f.fencedRows, 0);
    const stages = all.flatMap((f) => f.stages);
    const stageFigures = (k: keyof FenceStages) => {
      const v = stages.map((x) => x[k]).sort((a, b) => a - b);
      return { p50: +v[Math.floor((v.length - 1) / 2)].toFixed(1), max: +v[v.length - 1].toFixed(1) };
    };
    const fenceStagesMs = Object.fromEntries((['roundMs', 'rpcMs', 'othersMs', 'commitMs', 'installMs'] as const).map((k) => [k.replace(/Ms$/, ''), stageFigures(k)]));
    const frameRows = 65_536;
    const tcp = await measureTcpRequestResponse({ requestBytes: frameRows * ROW_BYTES, responseBytes: 8, seconds: 3, inflight: 2 });
    const res = {
      bench: 'reshard', rows, migrations: all.length, rows_moved: copyRows, rows_moved_per_s: Math.round(copyRows / copyS),
      tcp_limit_rows_per_s: Math.round(tcp.roundTripsPerS * frameRows), fence_p50_ms: +fences[Math.floor((fences.length - 1) / 2)].toFixed(1),
      fence_max_ms: +fences[fences.length - 1].toFixed(1), fences: fences.length,
      fence_all_ps_p50_ms: +fencesAll[Math.floor((fencesAll.length - 1) / 2)].toFixed(1), fence_all_ps_max_ms: +fencesAll[fencesAll.length - 1].toFixed(1),
      fenced_round_p50_ms: +rounds[Math.floor((rounds.length - 1) / 2)].toFixed(1), fenced_round_max_ms: +rounds[rounds.length - 1].toFixed(1), fenced_rows: fencedRows,
      install_p50_ms: stageFigures('installMs').p50, install_max_ms: stageFigures('installMs').max, fence_stages_ms: fenceStagesMs,
      unfenced_tails: all.reduce((n, f) => n + f.tails, 0),
      train_steps_per_s_before: +beforeRate.toFixed(1), train_steps_per_s_during: +duringRate.toFixed(1), train_share: +(duringRate / beforeRate).toFixed(3),
      migration_s: +migS.toFixed(2), fill_s: +fillS.toFixed(1),
    };
    process.stdout.write([
      `table: ${rows} rows (dim ${DIM}, Adagrad) over 2 PS, filled in ${fillS.toFixed(1)} s; ${all.length} migrations (2 -> 3, then ps-2 drained in ${all.length - 1} steps) in ${migS.toFixed(1)} s`,
      `copy rounds: ${copyRows} rows in ${copyS.toFixed(2)} s = ${(res.rows_moved_per_s / 1e6).toFixed(2)} M rows/s; raw TCP limit for the same bytes: ${(res.tcp_limit_rows_per_s / 1e6).toFixed(2)} M rows/s`,
      `fence pause per source (fencing SendTail to the new map on the source and its target): p50 ${res.fence_p50_ms} ms, max ${res.fence_max_ms} ms over ${fences.length} `
        + `(to the new map on every PS: p50 ${res.fence_all_ps_p50_ms} ms, max ${res.fence_all_ps_max_ms} ms); `
        + `of which the fenced round itself: p50 ${res.fenced_round_p50_ms} ms, max ${res.fenced_round_max_ms} ms (${fencedRows} rows in all); `
        + `the new map's install (SetShardMap on the source and its target): p50 ${res.install_p50_ms} ms, max ${res.install_max_ms} ms`,
      `fence stages p50/max ms: ${Object.entries(fenceStagesMs).map(([k, v]) => `${k} ${v.p50}/${v.max}`).join(', ')}; ${res.unfenced_tails} unfenced tail rounds in all`,
      `trainer (pull+push of ${STEP_ROWS} rows): ${beforeRate.toFixed(1)} steps/s before, ${duringRate.toFixed(1)} during the migrations (${(100 * res.train_share).toFixed(0)}%)`,
    ].join('\n') + '\n');
    if (json) process.stdout.write(`${JSON.stringify(res)}\n`);
  } finally {
    peers.close();
    await Promise.all(ps.map((p) => p.stop()));
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:reshard failed: ${(err as Error).message}\n`);
  process.exit(1);
});
