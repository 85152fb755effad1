/**
 * bench:memory — bytes per resident row against the payload, and RSS while one PS absorbs a
 * Zipf stream over 10^9 ids under a memory budget (issue #6).
 *
 *   node dist/bench/memory-bench.js [--json] [--rows N] [--pushes P] [--budget-mib M] [--dim D]
 *     [--tier-rows N] [--tier-only]
 *
 * 1. Budget run (first, in a fresh heap so RSS means something): an in-process PsNode with one
 *    dim-16 Adagrad table whose eviction budget is `--budget-mib` (default 1 GiB, LFU) takes
 *    `--pushes` (default 9000: the budget fills, then millions of rows are evicted) pull+push
 *    pairs of 8,192 ids drawn Zipf(s = 1.05) over 10^9 ids,
 *    generated on the fly. RSS is sampled every 100 pushes; the figure of merit is max RSS
 *    against the budget (target: budget + 10%; the Node runtime's own RSS is included).
 * 2. Bytes per row: `--rows` (default 10M) rows of dim 16 with Adagrad state are created through
 *    the normal path in three layouts (f32; f32 with eviction metadata; f16 weights with eviction
 *    metadata), and `memoryBytes / rows` is compared with the payload `weights + state + 8-byte id`.
 *    RAM pull rows/s is measured on the f32 table with Zipf-like batches of resident ids.
 * 3. Disk tier: `--tier-rows` (default 1M) rows are created in a table with a one-slab RAM budget
 *    (65,536 rows) and `eviction.spill` on an LMDB tier in a temporary directory, so ~94% of them
 *    live on disk. `tier_pull_rows_per_s` is the pull rate over batches of ids drawn uniformly
 *    from all of them: almost every row is loaded back from disk (and another spilled to make
 *    room), against `ram_pull_rows_per_s` for resident rows.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { LmdbRowTier } from '../src/ps/tier/lmdb-row-tier';
import { silentLogger } from '../src/common/logger';
import { BILLION, ZipfIdStream } from '../src/gen/zipf-id-stream';
import { PsNode } from '../src/ps/ps-node';
import { EmbeddingTable, EmbeddingTableOptions } from '../src/ps/store/embedding-table';
import { TIER_RELOAD_BUCKETS_S } from '../src/ps/store/tier-rows';
import { Encoding } from '../src/wire/data-plane-codec';
import { fmix32 } from '../src/common/fmix32';
import { argNum } from './bench-args';

const BATCH = 8192;
const MIB = 1 << 20;

const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

interface BudgetRun {
  budgetBytes: number;
  maxRss: number;
  baseRss: number;
  rssTrace: number[];
  tableBytes: number;
  rows: number;
  evicted: number;
  pushRowsPerS: number;
}

/** Part 1: pull + push a Zipf stream over 10^9 ids into a budgeted table; trace RSS. */
function budgetRun(pushes: number, budgetBytes: number, dim: number): BudgetRun {
  const node = new PsNode({ config: { maxRequestBytes: 1 << 30 }, logger: silentLogger() });
  global.gc?.();
  const baseRss = process.memoryUsage().rss;
  node.createTable({
    name: 'zipf', kind: 'embedding', dim, optimizer: { kind: 'adagrad', lr: 0.05 },
    eviction: { maxBytes: budgetBytes },
  });
  const stream = new ZipfIdStream({ vocab: BILLION, s: 1.05, seed: 7 });
  const ids = new Uint32Array(2 * BATCH);
  const grads = new Float32Array(BATCH * dim).map((_, i) => ((i % 13) - 6) * 1e-3);
  const out = new Uint8Array(BATCH * dim * 4);
  const alloc = (): Uint8Array => out;
  const rssTrace: number[] = [];
  let maxRss = 0;
  const t0 = process.hrtime.bigint();
  for (let p = 0; p < pushes; p++) {
    stream.fill(ids, BATCH);
    const req = { table: 'zipf', shardMapVersion: 0, ids: bytesOf(ids), encoding: Encoding.F32 };
    node.pull(req, alloc);
    node.push({ ...req, grads: bytesOf(grads) });
    if (p % 100 === 99 || p === pushes - 1) {
      const rss = process.memoryUsage().rss;
      rssTrace.push(rss);
      maxRss = Math.max(maxRss, rss);
    }
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const t = node.stats().tables[0];
  return {
    budgetBytes, maxRss, baseRss, rssTrace, tableBytes: t.bytes, rows: t.rows,
    evicted: t.memory!.evictedBudget + t.memory!.evictedTtl, pushRowsPerS: (pushes * BATCH * 2) / seconds,
  };
}

function writeId(ids: Uint32Array, i: number, k: number): void {
  ids[2 * i] = fmix32(k);
  ids[2 * i + 1] = fmix32(k ^ 0x5bd1e995);
}

/** Creates `rows` rows through pull (the normal growth path). */
function fill(table: EmbeddingTable, rows: number): void {
  const ids = new Uint32Array(2 * BATCH);
  const out = new Float32Array(BATCH * table.dim);
  for (let from = 0; from < rows; from += BATCH) {
    const n = Math.min(BATCH, rows - from);
    for (let i = 0; i < n; i++) writeId(ids, i, from + i);
    table.pull(ids.subarray(0, 2 * n), out);
  }
}

/** Pull rows/s over log-uniform (≈ Zipf s = 1) batches of resident ids, best of 3 passes. */
function pullRate(table: EmbeddingTable, rows: number): number {
  let s = 12345;
  const batches = Array.from({ length: 100 }, () => {
    const ids = new Uint32Array(2 * BATCH);
    for (let i = 0; i < BATCH; i++) {
      s = fmix32((s + 0x6d2b79f5) >>> 0);
      writeId(ids, i, Math.floor(rows ** (s / 2 ** 32)) - 1);
    }
    return ids;
  });
  const out = new Float32Array(BATCH * table.dim);
  let best = 0;
  for (let r = 0; r < 4; r++) {
    const t0 = process.hrtime.bigint();
    for (const b of batches) table.pull(b, out);
    const sec = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r > 0) best = Math.max(best, (batches.length * BATCH) / sec);
  }
  return best;
}

interface TierRun {
  rows: number;
  spilled: number;
  hitRate: number;
  pullRowsPerS: number;
  /** pulled rows per second of this process's CPU (user + system): steadier than wall time on a busy machine */
  pullRowsPerCpuS: number;
  reloadP50Us: number;
}

/** Part 3: pulls over a table whose rows mostly live in the disk tier. */
function tierRun(rows: number, dim: number): TierRun {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-bench-tier-'));
  const tier = new LmdbRowTier({ dir });
  try {
    const slab = 1 << 16;
    const table = new EmbeddingTable({
      name: 'tier', dim, optimizer: { kind: 'adagrad', lr: 0.05 }, eviction: { maxRows: slab, spill: true }, tier: tier.openTable('tier'),
    });
    fill(table, rows);
    const batch = 4096;
    let s = 777;
    const batches = Array.from({ length: 60 }, () => {
      const ids = new Uint32Array(2 * batch);
      for (let i = 0; i < batch; i++) {
        s = fmix32((s + 0x6d2b79f5) >>> 0);
        writeId(ids, i, s % rows);
      }
      return ids;
    });
    const out = new Float32Array(batch * dim);
    const before = table.memoryCounters().tier!;
    const t0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    for (const b of batches) table.pull(b, out);
    const sec = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const after = table.memoryCounters().tier!;
    const hits = after.hits - before.hits;
    const counts = after.reload.counts.map((c, i) => c - before.reload.counts[i]);
    let acc = 0;
    let b = 0;
    while (b < counts.length && (acc += counts[b]) < hits / 2) b++;
    return {
      rows, spilled: table.spilledRows, hitRate: hits / (batches.length * batch), pullRowsPerS: (batches.length * batch) / sec,
      pullRowsPerCpuS: (batches.length * batch) / ((cpu.user + cpu.system) / 1e6),
      reloadP50Us: (TIER_RELOAD_BUCKETS_S[b] ?? Infinity) * 1e6,
    };
  } finally {
    void tier.close().then(() => fs.rmSync(dir, { recursive: true, force: true }));
  }
}

interface Layout {
  name: string;
  bytesPerRow: number;
  payload: number;
  pullRowsPerS?: number;
}

/** Part 2: bytes per row at `rows` resident rows for one layout. */
function layout(name: string, rows: number, dim: number, extra: Partial<EmbeddingTableOptions>, measurePull: boolean): Layout {
  const table = new EmbeddingTable({ name: 'rows', dim, optimizer: { kind: 'adagrad', lr: 0.05 }, ...extra });
  fill(table, rows);
  const r: Layout = { name, bytesPerRow: table.memoryBytes() / table.size, payload: table.rowBytes + 8 };
  if (measurePull) r.pullRowsPerS = pullRate(table, rows);
  return r;
}

/** The disk-tier line (and with `json` its figures), for `--tier-only` runs: part 3 alone, for A/B runs of the tier. */
function writeTier(tr: TierRun, json: boolean): void {
  process.stdout.write(`disk-tier pull (${tr.rows} rows, ${tr.spilled} on disk): ${(tr.pullRowsPerS / 1e6).toFixed(3)} M rows/s, ` +
    `${(tr.hitRate * 100).toFixed(1)}% loaded from disk, reload p50 ≤ ${tr.reloadP50Us} µs\n`);
  if (json) {
    process.stdout.write(`${JSON.stringify({
      bench: 'memory-tier', tier_rows: tr.rows, tier_spilled_rows: tr.spilled, tier_hit_rate: Number(tr.hitRate.toFixed(3)),
      tier_pull_rows_per_s: Math.round(tr.pullRowsPerS), tier_pull_rows_per_cpu_s: Math.round(tr.pullRowsPerCpuS), tier_reload_p50_us: tr.reloadP50Us,
    })}\n`);
  }
}

function main(): void {
  const json = process.argv.includes('--json');
  const rows = argNum('rows', 10_000_000);
  const pushes = argNum('pushes', 9000);
  // 1 GiB: the Node runtime's own ~50 MiB is 10% of a 512 MiB budget, which no table layout
  // can win back; a PS budget is gigabytes.
  const budgetBytes = argNum('budget-mib', 1024) * MIB;
  const dim = argNum('dim', 16);
  const tierRows = argNum('tier-rows', 1_000_000);
  if (process.argv.includes('--tier-only')) {
    writeTier(tierRun(tierRows, dim), json);
    return;
  }
  const b = budgetRun(pushes, budgetBytes, dim);
  const mib = (x: number): string => `${(x / MIB).toFixed(0)} MiB`;
  const lines = [
    `budget run: ${pushes} pulls + pushes of ${BATCH} ids, Zipf s=1.05 over 10^9 ids, dim ${dim} Adagrad, LFU budget ${mib(budgetBytes)}`,
    `  table: ${b.rows} rows resident, ${mib(b.tableBytes)} (≤ budget: ${b.tableBytes <= budgetBytes}), ${b.evicted} rows evicted, ` +
      `${(b.pushRowsPerS / 1e6).toFixed(2)} M rows/s (pull + push)`,
    `  RSS: before table ${mib(b.baseRss)}, max ${mib(b.maxRss)} = ${(b.maxRss / budgetBytes).toFixed(3)}× budget ` +
      `(target ≤ 1.10×); trace every 100 pushes: ${b.rssTrace.map((x) => (x / MIB).toFixed(0)).join(' ')} MiB`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  const f32 = layout('f32', rows, dim, {}, true);
  const f32meta = layout('f32 + eviction metadata', rows, dim, { eviction: { ttlSteps: 1 << 30 } }, false);
  const f16meta = layout('f16 + eviction metadata', rows, dim, { weightFormat: 'f16', eviction: { ttlSteps: 1 << 30 } }, false);
  for (const l of [f32, f32meta, f16meta]) {
    process.stdout.write(`bytes/row at ${rows} rows, ${l.name}: ${l.bytesPerRow.toFixed(1)} vs payload ${l.payload} ` +
      `(weights + state + 8-byte id) = ${(l.bytesPerRow / l.payload).toFixed(3)}× (target ≤ 1.25×)\n`);
  }
  const tr = tierRun(tierRows, dim);
  process.stdout.write(`RAM pull (f32, Zipf-like resident ids): ${(f32.pullRowsPerS! / 1e6).toFixed(2)} M rows/s\n`);
  process.stdout.write(`disk-tier pull (f32, ${tr.rows} rows, ${tr.spilled} on disk, 1-slab RAM budget, uniform ids): ` +
    `${(tr.pullRowsPerS / 1e6).toFixed(3)} M rows/s, ${(tr.hitRate * 100).toFixed(1)}% of rows loaded from disk, reload p50 ≤ ${tr.reloadP50Us} µs\n`);
  if (json) {
    process.stdout.write(`${JSON.stringify({
      bench: 'memory', rows, dim,
      bytes_per_row: Number(f32.bytesPerRow.toFixed(2)), payload_bytes_per_row: f32.payload,
      bytes_per_row_with_eviction: Number(f32meta.bytesPerRow.toFixed(2)),
      f16_bytes_per_row_with_eviction: Number(f16meta.bytesPerRow.toFixed(2)), f16_payload_bytes_per_row: f16meta.payload,
      budget_bytes: b.budgetBytes, budget_table_bytes: b.tableBytes, budget_rows: b.rows, budget_evicted_rows: b.evicted,
      base_rss_bytes: b.baseRss, max_rss_bytes: b.maxRss, pushes, zipf_vocab: BILLION,
      budget_pull_push_rows_per_s: Math.round(b.pushRowsPerS),
      tier_rows: tr.rows, tier_spilled_rows: tr.spilled, tier_hit_rate: Number(tr.hitRate.toFixed(3)),
      tier_pull_rows_per_s: Math.round(tr.pullRowsPerS), ram_pull_rows_per_s: Math.round(f32.pullRowsPerS!),
    })}\n`);
  }
}

main();
