/**
 * Builds version V+1 of a served model from version V and the delta on it (`tessera-delta/1`,
 * docs/model-format.md "Deltas"), as a new `LoadedVersion` that the caller swaps in. V is never
 * modified, so a request sees V or V+1 whole, never a half-applied delta; V is retired by the swap
 * and released once the requests holding it end.
 *
 * V+1 shares the rows of the full version the chain started from (never copied) and carries V's
 * overlay with the delta's rows and tombstones layered on top (row-overlay.ts): the work is
 * proportional to the rows the delta changes, not to the rows resident (measured in
 * docs/benchmarks.md "Delta apply"). A removed row reads as its table's cold-start value, as it
 * does for evaluation and for an id never trained. The dense weights are the delta's whole vector.
 *
 * ```ts
 * const next = await applyDelta(current, await readDelta(root, 'ctr', 8), dir);
 * model.add(next.version);
 * ```
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { DeltaContent } from '../export/delta-dir';
import { buildModelParts } from '../infer/model-parts';
import type { EmbeddingTable } from '../ps/store/embedding-table';
import { TableStore } from '../ps/store/table-store';
import { LoadedVersion } from './loaded-version';
import { SERVE_SLAB_ROWS } from './version-loader';

/** Rows changed and removed by one applied delta. */
export interface DeltaApplied {
  version: LoadedVersion;
  /** rows the delta writes */
  rows: number;
  /** ids the delta removes (each reads its cold-start value from V+1 on) */
  tombstones: number;
  /** rows written into new overlay layers: the delta's ids, plus those of layers merged (no resident row is copied) */
  copied: number;
}

function refuse(name: string, d: DeltaContent, why: string): TesseraError {
  return new TesseraError(ERROR_CODES.INCOMPATIBLE_SPEC, `delta ${d.version} of ${name}: ${why}`);
}

/** An empty in-RAM table of `store`'s table `name`: it reads every id as its cold-start value. */
function coldTable(store: TableStore, name: string): EmbeddingTable {
  const { eviction: _budget, ...inRam } = store.spec(name) as ReturnType<TableStore['spec']> & { eviction?: unknown };
  const cold = new TableStore({ slabRows: SERVE_SLAB_ROWS });
  cold.create(inRam as ReturnType<TableStore['spec']>);
  return cold.getEmbedding(name);
}

/** Refuses a delta table that is not an embedding table of `base` with the same dim. */
function checkTables(base: LoadedVersion, d: DeltaContent): void {
  for (const t of d.tables) {
    const kind = base.store.list().find((x) => x.name === t.name)?.kind;
    if (kind !== 'embedding') throw refuse(base.name, d, `table ${t.name} is not an embedding table of the served version`);
    const dim = base.store.getEmbedding(t.name).dim;
    if (dim !== t.dim) throw refuse(base.name, d, `table ${t.name} has dim ${t.dim}, the served one ${dim}`);
  }
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
  checkTables(base, d);
  const parts = buildModelParts(base.spec, { constantWeights: true });
  if (d.dense.values.length !== parts.model.denseSize) {
    parts.model.dispose();
    throw refuse(base.name, d, `dense.f32 holds ${d.dense.values.length} weights; the model needs ${parts.model.denseSize}`);
  }
  const { overlay, copied } = base.overlay.with(d.tables, (name) => coldTable(base.store, name));
  const rows = d.tables.reduce((n, t) => n + (t.ids.length >>> 1), 0);
  const tombstones = d.tables.reduce((n, t) => n + (t.tombstones.length >>> 1), 0);
  const origin = {
    dir, stamp: -1, loadedAt: Date.now(), loadSeconds: (performance.now() - started) / 1000,
    manifest: { ...manifest, createdAt: new Date(d.cutAt).toISOString(), step: d.step, samples: d.samples },
  };
  const share = base.shareRows();
  const version = new LoadedVersion(base.name, d.version, base.spec, parts, base.store, d.dense.values, origin, share.release, overlay, share.owner);
  return { version, rows, tombstones, copied };
}
