/**
 * `npm run bench:promote -- [--rows 100000,1000000] [--tier] [--json]` (issue 17): the time a buddy takes
 * to promote a dead primary's replica of N rows (dim 16, Adagrad), and the longest its event
 * loop was blocked meanwhile (the longest gap between 1 ms timer ticks): while it is blocked the
 * PS answers no pull, no push and no lease keepalive. In one process, with no gRPC: the promote
 * itself, which bench:ps `--replication` times end to end over gRPC after a kill -9. CPU ms is
 * this process's user + system time during the promotion (the machine may be shared). With
 * `--tier`, the table spills with 65,536 resident rows (ADR 0037 amendment 5): the replica holds
 * the rest on its tier, and the promotion copies those records onto the live table's tier.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { silentLogger } from '../src/common/logger';
import { PsNode } from '../src/ps/ps-node';
import { ReplicaStore } from '../src/ps/replication/replica-store';
import { ReplicationLog } from '../src/ps/replication/replication-log';
import { LmdbReplicaTiers } from '../src/ps/tier/lmdb-replica-tiers';
import { LmdbRowTier } from '../src/ps/tier/lmdb-row-tier';
import { Encoding } from '../src/wire/data-plane-codec';
import { asBytes } from '../src/wire/key-block';
import { argList } from './bench-args';

const DIM = 16;
const NB = 4096;
const PUSH = 8192;

const TIER = process.argv.includes('--tier');
const tierRoot = TIER ? fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-bench-promote-')) : '';
const closers: (() => Promise<void>)[] = [];

function node(): PsNode {
  let tiers = {};
  if (TIER) {
    const dir = fs.mkdtempSync(path.join(tierRoot, 'ps-'));
    const tier = new LmdbRowTier({ dir });
    const replicaTiers = new LmdbReplicaTiers({ dir });
    closers.push(() => tier.close(), () => replicaTiers.close());
    tiers = { tier, replicaTiers };
  }
  const n = new PsNode({ config: { maxRequestBytes: 1 << 26 }, logger: silentLogger(), ...tiers });
  n.createTable({
    name: 'emb', kind: 'embedding', dim: DIM, optimizer: { kind: 'adagrad', lr: 0.05 }, initializer: { kind: 'uniform', scale: 0.05 }, seed: 1,
    ...(TIER ? { eviction: { maxRows: 1 << 16, spill: true } } : {}),
  });
  n.setShardMap(1, NB, null);
  return n;
}

/** A buddy holding a replica of a primary with `rows` rows, built through the real log. */
function buddyWithReplica(rows: number): { buddy: PsNode; store: ReplicaStore } {
  const primary = node();
  const log = new ReplicationLog(primary, { primaryId: 1 });
  primary.onApplied = (t, i, c, s, r, g) => log.applied(t, i, c, s, r, g);
  const grads = asBytes(new Float32Array(PUSH * DIM).fill(0.01));
  for (let at = 0; at < rows; at += PUSH) {
    const n = Math.min(PUSH, rows - at);
    const ids = new Uint32Array(2 * n);
    for (let k = 0; k < n; k++) ids[2 * k] = 1 + ((at + k) * 2654435761) % 0xfffffff0;
    primary.push({ table: 'emb', shardMapVersion: 1, ids: asBytes(ids), grads: n === PUSH ? grads : asBytes(new Float32Array(n * DIM).fill(0.01)), encoding: Encoding.F32 });
  }
  const buddy = node();
  const store = new ReplicaStore(buddy);
  for (let b = log.cut(1 << 20); b; b = log.cut(1 << 20)) store.apply(b);
  return { buddy, store };
}

async function measure(rows: number): Promise<{ rows: number; spilled: number; promote_ms: number; promote_cpu_ms: number; max_blocked_ms: number; slices: number }> {
  const { buddy, store } = buddyWithReplica(rows);
  let last = performance.now();
  let maxGap = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
  }, 1);
  await new Promise((r) => setTimeout(r, 20));
  maxGap = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  last = t0;
  const p = await store.promote(1, new Uint8Array(NB).fill(1));
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  maxGap = Math.max(maxGap, performance.now() - last);
  clearInterval(tick);
  if (p.rows !== rows) throw new Error(`promoted ${p.rows} rows, expected ${rows}`);
  return { rows, spilled: buddy.store.getEmbedding('emb').spilledRows, promote_ms: Math.round(ms), promote_cpu_ms: Math.round((cpu.user + cpu.system) / 1000), max_blocked_ms: Math.round(maxGap), slices: p.slices };
}

async function main(): Promise<void> {
  const out = [];
  for (const rows of argList('rows', [100_000, 1_000_000])) {
    const m = await measure(rows);
    console.log(`promote ${m.rows} rows (${m.spilled} on the live tier after): ${m.promote_ms} ms (CPU ${m.promote_cpu_ms} ms) in ${m.slices} slices, event loop blocked at most ${m.max_blocked_ms} ms`);
    out.push(m);
  }
  if (process.argv.includes('--json')) console.log(JSON.stringify({ bench: 'promote', tier: TIER, runs: out }));
  for (const close of closers) await close();
  if (TIER) fs.rmSync(tierRoot, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
