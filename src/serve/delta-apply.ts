/**
 * Builds version V+1 of a served model from version V and the delta on it (`tessera-delta/1`,
 * docs/model-format.md "Deltas"), as a new `LoadedVersion` that the caller swaps in. V is never
 * modified, so a request sees V or V+1 whole, never a half-applied delta; V is retired by the swap
 * and released once the requests holding it end.
 *
 * V+1's rows are a copy of V's (an O(rows) copy per delta, measured in docs/adr/0028-serve-follow.md)
 * with the delta's rows written over them and its tombstones removed: a removed row reads as its
 * table's cold-start value, as it does for evaluation and for an id never trained. The dense
 * weights are the delta's whole vector.
 *
 * ```ts
 * const next = await applyDelta(current, await readDelta(root, 'ctr', 8), dir);
 * model.add(next);
 * ```
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { DeltaContent } from '../export/delta-dir';
import { buildModelParts } from '../infer/model-parts';
import type { EmbeddingTable } from '../ps/store/embedding-table';
import { TableStore } from '../ps/store/table-store';
import { LoadedVersion } from './loaded-version';
import { SERVE_SLAB_ROWS } from './version-loader';

/** Rows copied per batch. */
const COPY_CHUNK_ROWS = 4096;

/** Rows changed and removed by one applied delta. */
export interface DeltaApplied {
  version: LoadedVersion;
  rows: number;
  tombstones: number;
}

function refuse(name: string, d: DeltaContent, why: string): TesseraError {
  return new TesseraError(ERROR_CODES.INCOMPATIBLE_SPEC, `delta ${d.version} of ${name}: ${why}`);
}

/** Copies every row of `src` into `dst`, COPY_CHUNK_ROWS at a time (half the time of a putRow per row). */
function copyRows(src: EmbeddingTable, dst: EmbeddingTable): void {
  const dim = src.dim;
  const ids = new Uint32Array(2 * COPY_CHUNK_ROWS);
  const weights = new Float32Array(COPY_CHUNK_ROWS * dim);
  let k = 0;
  src.forEachRow((lo, hi, w) => {
    ids[2 * k] = lo;
    ids[2 * k + 1] = hi;
    weights.set(w, k * dim);
    if (++k === COPY_CHUNK_ROWS) {
      dst.putRows(ids, weights, k);
      k = 0;
    }
  });
  if (k > 0) dst.putRows(ids, weights, k);
}

/** A copy of `from`'s tables and rows, in RAM. */
function copyStore(from: TableStore): TableStore {
  const to = new TableStore({ slabRows: SERVE_SLAB_ROWS });
  for (const t of from.list()) {
    const spec = from.spec(t.name);
    if (t.kind !== 'embedding') {
      to.create(spec);
      continue;
    }
    const { eviction: _budget, ...inRam } = spec as typeof spec & { eviction?: unknown };
    to.create(inRam as typeof spec, { initialCapacity: t.rows });
    copyRows(from.getEmbedding(t.name), to.getEmbedding(t.name));
  }
  return to;
}

/**
 * Version `d.version` of `base`'s model: `base` with delta `d` applied; see the file comment.
 * @param dir the delta's directory (shown in status as where the version came from)
 * @throws TesseraError INCOMPATIBLE_SPEC when the delta's fingerprint, parent, tables or dense
 *   size do not match `base` (the caller stays on `base`)
 */
export async function applyDelta(base: LoadedVersion, d: DeltaContent, dir: string): Promise<DeltaApplied> {
  const started = performance.now();
  const manifest = base.origin.manifest;
  if (d.parent !== base.version) throw refuse(base.name, d, `its parent is ${d.parent}, the served version is ${base.version}`);
  if (d.specFingerprint !== manifest.specFingerprint) throw refuse(base.name, d, `spec fingerprint ${d.specFingerprint} differs from the served ${manifest.specFingerprint}`);
  const store = copyStore(base.store);
  let rows = 0;
  let tombstones = 0;
  for (const t of d.tables) {
    if (!store.has(t.name) || store.list().find((x) => x.name === t.name)?.kind !== 'embedding') throw refuse(base.name, d, `table ${t.name} is not an embedding table of the served version`);
    const table = store.getEmbedding(t.name);
    if (table.dim !== t.dim) throw refuse(base.name, d, `table ${t.name} has dim ${t.dim}, the served one ${table.dim}`);
    table.putRows(t.ids, t.weights, t.ids.length >>> 1);
    tombstones += table.deleteIds(t.tombstones);
    rows += t.ids.length >>> 1;
  }
  const parts = buildModelParts(base.spec, { constantWeights: true });
  if (d.dense.values.length !== parts.model.denseSize) {
    parts.model.dispose();
    throw refuse(base.name, d, `dense.f32 holds ${d.dense.values.length} weights; the model needs ${parts.model.denseSize}`);
  }
  const origin = {
    dir, stamp: -1, loadedAt: Date.now(), loadSeconds: (performance.now() - started) / 1000,
    manifest: { ...manifest, createdAt: new Date(d.cutAt).toISOString(), step: d.step, samples: d.samples },
  };
  const version = new LoadedVersion(base.name, d.version, base.spec, parts, store, d.dense.values, origin, () => undefined);
  return { version, rows, tombstones };
}
