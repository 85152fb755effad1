/**
 * bench:table — in-memory EmbeddingTable gather (pull) and scatter (Adagrad push) beside a plain
 * Float32Array of the same shape with random row copies, all measured in this run.
 *
 *   node dist/bench/table-bench.js [--json] [--rows N] [--dim D] [--batches B]
 *
 * Setup: the table is filled with N rows (default 10M, dim 16, Adagrad) of pseudo-random 64-bit
 * ids through its normal growth path (index rehashes included); then batches of 8,192 ids drawn
 * uniformly (and, as an extra figure, log-uniformly ≈ Zipf s=1) over the resident ids are gathered
 * and pushed. The peer gathers the same row numbers from a plain N×D Float32Array, by
 * `out.set(src.subarray(..))` and by an element loop; the faster of the two is reported.
 * With --json the last stdout line is one JSON object.
 */
import { EmbeddingTable } from '../src/ps/store/embedding-table';
import { fmix32 } from '../src/common/fmix32';
import { argNum } from './bench-args';

const BATCH = 8192;

function writeId(ids: Uint32Array, i: number, k: number): void {
  ids[2 * i] = fmix32(k);
  ids[2 * i + 1] = fmix32(k ^ 0x5bd1e995);
}

/** `count` batches of row numbers in [0, rows): uniform, or log-uniform (≈ Zipf s=1) when `zipf`. */
function rowBatches(count: number, rows: number, zipf: boolean, seed: number): Int32Array[] {
  let s = seed >>> 0;
  const rand = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  return Array.from({ length: count }, () => Int32Array.from({ length: BATCH }, () =>
    (zipf ? Math.floor(rows ** rand()) - 1 : Math.floor(rand() * rows))));
}

function idsOf(rowNumbers: Int32Array): Uint32Array {
  const ids = new Uint32Array(2 * rowNumbers.length);
  rowNumbers.forEach((k, i) => writeId(ids, i, k));
  return ids;
}

/** Rows per second of `fn` over every batch, best of `reps` passes (after one warm-up pass). */
function rate<T>(batches: T[], reps: number, fn: (b: T) => void): number {
  let best = 0;
  for (let r = 0; r <= reps; r++) {
    const t0 = process.hrtime.bigint();
    for (const b of batches) fn(b);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r > 0) best = Math.max(best, (batches.length * BATCH) / s);
  }
  return best;
}

function fill(table: EmbeddingTable, rows: number): number {
  const ids = new Uint32Array(2 * BATCH);
  const out = new Float32Array(BATCH * table.dim);
  const t0 = process.hrtime.bigint();
  for (let from = 0; from < rows; from += BATCH) {
    const n = Math.min(BATCH, rows - from);
    for (let i = 0; i < n; i++) writeId(ids, i, from + i);
    table.pull(ids.subarray(0, 2 * n), out);
  }
  return rows / (Number(process.hrtime.bigint() - t0) / 1e9);
}

/** The peer: random row copies out of a plain rows×dim Float32Array. */
function plainCopy(rows: number, dim: number, batches: Int32Array[], reps: number): Record<string, number> {
  const src = new Float32Array(rows * dim);
  // Write every element: untouched pages all map the kernel's shared zero page, whose reads hit
  // cache and would make the peer look far faster than real memory allows.
  for (let i = 0; i < src.length; i++) src[i] = (i & 1023) * 1e-3;
  const out = new Float32Array(BATCH * dim);
  const set = rate(batches, reps, (b) => {
    for (let i = 0; i < BATCH; i++) out.set(src.subarray(b[i] * dim, b[i] * dim + dim), i * dim);
  });
  const loop = rate(batches, reps, (b) => {
    for (let i = 0; i < BATCH; i++) {
      const s = b[i] * dim;
      const o = i * dim;
      for (let j = 0; j < dim; j++) out[o + j] = src[s + j];
    }
  });
  // The table's own kernel on the plain array: float64 pairs, unrolled (f32-row-slabs.ts).
  const s64 = new Float64Array(src.buffer);
  const o64 = new Float64Array(out.buffer);
  const h = dim >>> 1;
  const f64 = dim % 2 !== 0 ? 0 : rate(batches, reps, (b) => {
    for (let i = 0; i < BATCH; i++) {
      const s = b[i] * h;
      const o = i * h;
      let j = 0;
      for (; j + 4 <= h; j += 4) {
        o64[o + j] = s64[s + j];
        o64[o + j + 1] = s64[s + j + 1];
        o64[o + j + 2] = s64[s + j + 2];
        o64[o + j + 3] = s64[s + j + 3];
      }
      for (; j < h; j++) o64[o + j] = s64[s + j];
    }
  });
  return { set, loop, f64 };
}

function main(): void {
  const json = process.argv.includes('--json');
  const rows = argNum('rows', 10_000_000);
  const dim = argNum('dim', 16);
  const nb = argNum('batches', 100);
  const table = new EmbeddingTable({ name: 'bench', dim, optimizer: { kind: 'adagrad', lr: 0.05 } });
  const fillRate = fill(table, rows);
  const uniform = rowBatches(nb, rows, false, 1);
  const uniformIds = uniform.map(idsOf);
  const zipfIds = rowBatches(nb, rows, true, 2).map(idsOf);
  const out = new Float32Array(BATCH * dim);
  const grads = new Float32Array(BATCH * dim).map((_, i) => ((i % 13) - 6) * 1e-3);
  const gather = rate(uniformIds, 3, (ids) => table.pull(ids, out));
  const gatherZipf = rate(zipfIds, 3, (ids) => table.pull(ids, out));
  const scatter = rate(uniformIds, 3, (ids) => table.push(ids, grads));
  const bytesPerRow = table.memoryBytes() / table.size;
  const payload = table.rowBytes;
  const peer = plainCopy(rows, dim, uniform, 3);
  const f32 = Math.max(peer.set, peer.loop);
  const m = (x: number): string => `${(x / 1e6).toFixed(2)} M rows/s`;
  const lines = [
    `setup: ${rows} rows, dim ${dim}, Adagrad (${table.rowBytes} bytes per row slot), batches of ${BATCH} ids, ` +
      `${nb} batches per pass, best of 3 passes`,
    `fill (pull of new ids, index rehashes included): ${m(fillRate)}`,
    `gather uniform: ${m(gather)}   gather Zipf-ish: ${m(gatherZipf)}`,
    `scatter (Adagrad push, uniform): ${m(scatter)}`,
    `plain Float32Array peer: set(subarray) ${m(peer.set)}, element loop ${m(peer.loop)} ` +
      `→ table gather is ${(gather / f32).toFixed(2)}× the faster of the two`,
    `  (same peer through a Float64Array view, unrolled: ${peer.f64 ? m(peer.f64) : 'n/a for odd dim'})`,
    `memory: ${bytesPerRow.toFixed(1)} bytes/row (index ${table.indexCapacity} slots) vs payload ` +
      `${payload} bytes/row (weights ${dim * 4} + state ${table.stateWidth * 4})`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (json) {
    process.stdout.write(`${JSON.stringify({
      bench: 'table', rows, dim, gather_rows_per_s: Math.round(gather), gather_zipf_rows_per_s: Math.round(gatherZipf),
      scatter_rows_per_s: Math.round(scatter), f32_copy_rows_per_s: Math.round(f32),
      f64_view_copy_rows_per_s: Math.round(peer.f64), fill_rows_per_s: Math.round(fillRate),
      bytes_per_row: Number(bytesPerRow.toFixed(2)), payload_bytes_per_row: payload,
    })}\n`);
  }
}

main();
