/**
 * bench:delta-apply (issue 15, freshness): the cost of `tessera serve --follow` applying one delta
 * of `--delta-rows` changed rows (half of them resident, half new, plus 1% tombstones) onto a
 * served version of the DeepFM bench model holding `--rows` resident rows, in the same run:
 *
 * - before: the copy apply this replaced (every resident row copied into a new store, then the
 *   delta written over the copy and its tombstones deleted);
 * - after: `applyDelta` (src/serve/delta-apply.ts), which shares the resident rows and layers the
 *   changed ones in an overlay; timed on its own and over a chain of `--chain` deltas (where
 *   overlay layers merge), with the read cost of 1024 ids on the base and on the chain's head.
 *
 *   npm run bench:delta-apply -- [--json] [--rows 1000000] [--delta-rows 10000] [--chain 30]
 *
 * With --json the last stdout line is {"bench": "delta-apply", ...}.
 */
import { silentLogger } from '../src/common/logger';
import type { DeltaContent, DeltaTable } from '../src/export/delta-dir';
import type { ModelManifest } from '../src/export/model-dir';
import { buildModelParts } from '../src/infer/model-parts';
import { selectBackend } from '../src/model/backend';
import type { EmbeddingTableSpec } from '../src/ps/store/table-store';
import { TableStore } from '../src/ps/store/table-store';
import { applyDelta } from '../src/serve/delta-apply';
import { LoadedVersion } from '../src/serve/loaded-version';
import { SERVE_SLAB_ROWS } from '../src/serve/version-loader';
import { parseJobSpec } from '../src/spec/job-spec';
import { argNum } from './bench-args';
import { TRAIN_BENCH_JOB_YAML } from './bench-job';

const log = (msg: string): void => { process.stderr.write(`bench:delta-apply: ${msg}\n`); };
const FINGERPRINT = 'bench';
/** Ids read per timed read (a batch of 1024 rows of one field). */
const READ_IDS = 1024;

/** [2n] ids: lo = first + i, hi = table index. */
function ids(first: number, n: number, hi: number): Uint32Array {
  const out = new Uint32Array(2 * n);
  for (let i = 0; i < n; i++) {
    out[2 * i] = first + i;
    out[2 * i + 1] = hi;
  }
  return out;
}

/** A served version of the bench model with `rows` resident rows spread over its embedding tables. */
function baseVersion(rows: number): { base: LoadedVersion; tables: { name: string; dim: number }[] } {
  const spec = parseJobSpec(TRAIN_BENCH_JOB_YAML);
  const parts = buildModelParts(spec, { constantWeights: true });
  const store = new TableStore({ slabRows: SERVE_SLAB_ROWS });
  const tables: { name: string; dim: number }[] = [];
  for (const t of parts.layout.tableSpecs()) {
    if (t.kind !== 'embedding') continue;
    const e = t as EmbeddingTableSpec;
    tables.push({ name: e.name, dim: e.dim });
  }
  const per = Math.ceil(rows / tables.length);
  tables.forEach((t, hi) => {
    store.create({ ...(parts.layout.tableSpecs().find((s) => s.name === t.name) as EmbeddingTableSpec), optimizer: { kind: 'sgd', lr: 1 } }, { initialCapacity: per });
    store.getEmbedding(t.name).putRows(ids(0, per, hi), new Float32Array(per * t.dim).fill(0.25), per);
  });
  const manifest = { specFingerprint: FINGERPRINT, createdAt: new Date().toISOString(), step: 0, samples: 0 } as ModelManifest;
  const dense = parts.model.initialDense();
  const base = new LoadedVersion(spec.name, 1, spec, parts, store, dense, { dir: 'bench', manifest, loadedAt: Date.now(), loadSeconds: 0, stamp: 0 }, () => undefined);
  return { base, tables };
}

/** Delta `version` on `parent`: `n` rows over the tables, half resident (from `perTable / 2`), half new, and n/100 tombstones. */
function delta(version: number, parent: number, base: LoadedVersion, tables: { name: string; dim: number }[], n: number, perTable: number): DeltaContent {
  const k = Math.ceil(n / tables.length);
  const out: DeltaTable[] = tables.map((t, hi) => ({
    name: t.name, dim: t.dim,
    ids: ids(perTable - Math.floor(k / 2) + version * 7, k, hi),
    weights: new Float32Array(k * t.dim).fill(version),
    tombstones: ids(version * 13, Math.max(1, Math.floor(k / 100)), hi),
  }));
  return {
    version, parent, cutAt: Date.now(), step: version, samples: version, specFingerprint: FINGERPRINT, pauseMs: 0, tables: out,
    dense: { name: 'dense', values: new Float32Array(base.parts.model.denseSize) },
  };
}

/** The apply this bench compares against: every resident row copied, then the delta written over the copy. */
function copyApply(base: LoadedVersion, d: DeltaContent): TableStore {
  const to = new TableStore({ slabRows: SERVE_SLAB_ROWS });
  for (const t of base.store.list()) {
    if (t.kind !== 'embedding') continue;
    to.create(base.store.spec(t.name), { initialCapacity: t.rows });
    const src = base.store.getEmbedding(t.name);
    const dst = to.getEmbedding(t.name);
    const chunk = 4096;
    const idBuf = new Uint32Array(2 * chunk);
    const w = new Float32Array(chunk * src.dim);
    let k = 0;
    src.forEachRow((lo, hi, row) => {
      idBuf[2 * k] = lo;
      idBuf[2 * k + 1] = hi;
      w.set(row, k * src.dim);
      if (++k === chunk) { dst.putRows(idBuf, w, k); k = 0; }
    });
    if (k > 0) dst.putRows(idBuf, w, k);
  }
  for (const t of d.tables) {
    const table = to.getEmbedding(t.name);
    table.putRows(t.ids, t.weights, t.ids.length >>> 1);
    table.deleteIds(t.tombstones);
  }
  return to;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** ms per read of READ_IDS ids of the first table, over `reps` reads. */
function readMs(v: LoadedVersion, table: string, perTable: number, reps: number): number {
  const probe = ids(perTable - READ_IDS / 2, READ_IDS, 0);
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) v.readRows(table, probe);
  return (performance.now() - t0) / reps;
}

async function main(): Promise<void> {
  const rows = argNum('rows', 1_000_000);
  const deltaRows = argNum('delta-rows', 10_000);
  const chain = argNum('chain', 30);
  selectBackend(silentLogger());
  const { base, tables } = baseVersion(rows);
  const perTable = Math.ceil(rows / tables.length);
  log(`${base.rows().resident} resident rows over ${tables.length} tables; delta of ${deltaRows} rows`);
  const copyMs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    copyApply(base, delta(2, 1, base, tables, deltaRows, perTable));
    copyMs.push(performance.now() - t0);
  }
  const overlayMs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const out = await applyDelta(base, delta(2, 1, base, tables, deltaRows, perTable), 'bench');
    overlayMs.push(performance.now() - t0);
    out.version.retire();
  }
  const chainMs: number[] = [];
  let head = base;
  let copied = 0;
  for (let v = 2; v < 2 + chain; v++) {
    const d = delta(v, v - 1, base, tables, deltaRows, perTable);
    const t0 = performance.now();
    const out = await applyDelta(head, d, 'bench');
    chainMs.push(performance.now() - t0);
    copied += out.copied;
    head = out.version;
  }
  const result = {
    bench: 'delta-apply', resident_rows: base.rows().resident, delta_rows: deltaRows,
    copy_apply_ms: median(copyMs), overlay_apply_ms: median(overlayMs), speedup: median(copyMs) / median(overlayMs),
    chain: { deltas: chain, mean_ms: chainMs.reduce((a, b) => a + b, 0) / chain, max_ms: Math.max(...chainMs), rows_written_per_delta: copied / chain, overlay_rows: head.rows().overlay },
    read_1024_ids_ms: { base: readMs(base, tables[0].name, perTable, 200), chain_head: readMs(head, tables[0].name, perTable, 200) },
  };
  log(`copy apply ${result.copy_apply_ms.toFixed(1)} ms, overlay apply ${result.overlay_apply_ms.toFixed(2)} ms (${result.speedup.toFixed(0)}x); chain of ${chain}: mean ${result.chain.mean_ms.toFixed(2)} ms, max ${result.chain.max_ms.toFixed(1)} ms`);
  if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(result)}\n`);
  else process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`bench:delta-apply: ${err.message}\n`);
  process.exitCode = 1;
});
