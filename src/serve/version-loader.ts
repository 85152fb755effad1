/**
 * Loads one model version from the model root into a servable `LoadedVersion`, refusing it with a
 * clear reason when it cannot be served:
 *
 * 1. the manifest and job spec are read and checked (format, spec fingerprint);
 * 2. the spec must take the same input fields as the version being served (a new version must
 *    not change the request schema under the clients);
 * 3. the model is built from the spec (the training code's transform and model);
 * 4. every table is streamed in with its size and SHA-256 checked; with a memory budget the rows
 *    beyond it go to this version's own disk tier (LMDB), and come back when read;
 * 5. a warm-up batch is predicted and must give probabilities in [0, 1].
 *
 * Only then is the version returned, for the caller to swap in. A refused version leaves nothing
 * behind (its tier directory is removed).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { schemaFor, newRawRow } from '../data/record';
import { loadModel, MODEL_MANIFEST, readModelManifest, ModelManifest } from '../export/model-dir';
import { versionDir } from '../export/model-root';
import { DENSE_TABLE } from '../infer/feature-layout';
import { buildModelParts } from '../infer/model-parts';
import type { EmbeddingTableSpec } from '../ps/store/table-store';
import { TableStore } from '../ps/store/table-store';
import { LmdbRowTier } from '../ps/tier/lmdb-row-tier';
import { specFieldNames } from '../spec/raw-fields';
import type { JobSpec } from '../spec/types';
import { LoadedVersion } from './loaded-version';

/** Rows per slab of a served table: small, so a memory budget of a few MiB per table works. */
const SERVE_SLAB_ROWS = 4096;
/** Rough bytes per resident row beyond its weights (id index, eviction metadata). */
const ROW_OVERHEAD_BYTES = 24;
/** Rows of the warm-up batch. */
const WARM_UP_ROWS = 4;
/**
 * Bytes of a table file read per step of a load: about a thousand rows of dim 16, a millisecond
 * or so of work between two turns of the event loop, so requests keep flowing during a load.
 */
const LOAD_CHUNK_BYTES = 64 << 10;

/** How versions are loaded. */
export interface LoaderOptions {
  /** bytes of embedding rows one version keeps in RAM; the rest go to its disk tier (none: all in RAM) */
  maxResidentBytes?: number;
  /** parent directory of the versions' disk tiers (needed with maxResidentBytes) */
  tierRoot?: string;
}

/** The input fields of a spec, as the requests see them: the format and the raw field names. */
export function inputSignature(spec: JobSpec): string {
  return `${spec.data.format}:${specFieldNames(spec).join(',')}`;
}

function refuse(code: typeof ERROR_CODES[keyof typeof ERROR_CODES], name: string, version: number, why: string): TesseraError {
  return new TesseraError(code, `version ${version} of ${name}: ${why}`);
}

/** Refuses a spec whose input fields differ from those of the version being served. */
function checkCompatible(name: string, version: number, spec: JobSpec, served: JobSpec | undefined): void {
  if (!served || inputSignature(spec) === inputSignature(served)) return;
  const mine = specFieldNames(spec);
  const theirs = specFieldNames(served);
  const added = mine.filter((f) => !theirs.includes(f));
  const removed = theirs.filter((f) => !mine.includes(f));
  const what = spec.data.format !== served.data.format ? `data format ${spec.data.format} instead of ${served.data.format}`
    : `different input fields (added: ${added.join(', ') || 'none'}; removed: ${removed.join(', ') || 'none'})`;
  throw refuse(ERROR_CODES.INCOMPATIBLE_SPEC, name, version, `${what} than the version being served; serve it under another model name`);
}

/**
 * Per-table byte budgets: tables that fit their share stay wholly resident (undefined) and give
 * the rest of their share to the others, which split what is left by size.
 */
export function tableBudgets(tables: readonly { name: string; rows: number; dim: number }[], budget: number): Map<string, number | undefined> {
  const est = (t: { rows: number; dim: number }): number => t.rows * (4 * t.dim + ROW_OVERHEAD_BYTES);
  const pending = [...tables].sort((a, b) => est(a) - est(b));
  const out = new Map<string, number | undefined>();
  let remaining = budget;
  while (pending.length > 0 && est(pending[0]) <= remaining / pending.length) {
    const t = pending.shift()!;
    remaining -= est(t);
    out.set(t.name, undefined);
  }
  const total = pending.reduce((n, t) => n + est(t), 0);
  for (const t of pending) out.set(t.name, Math.floor(remaining * est(t) / total));
  return out;
}

/** The spec a served table is created with: no optimizer state, the server's budget, no training eviction. */
function servedTableSpec(saved: EmbeddingTableSpec, maxBytes: number | undefined): EmbeddingTableSpec {
  const { eviction: _training, ...rest } = saved;
  return { ...rest, optimizer: { kind: 'sgd', lr: 1 }, ...(maxBytes !== undefined ? { eviction: { maxBytes, spill: true } } : {}) };
}

/** The budgets of `manifest`'s tables under `opts` (empty without a budget). */
function budgetsOf(manifest: ModelManifest, opts: LoaderOptions): Map<string, number | undefined> {
  if (opts.maxResidentBytes === undefined) return new Map();
  const tables = manifest.tables.map((t) => ({ name: t.spec.name, rows: t.rows, dim: (t.spec as EmbeddingTableSpec).dim }));
  return tableBudgets(tables, opts.maxResidentBytes);
}

/**
 * Loads version `version` of model `name` under `root`.
 * @param served the spec of the version being served, whose input fields a new version must keep
 * @throws TesseraError (CHECKPOINT_CORRUPT, INCOMPATIBLE_SPEC, CONFIG, INTERNAL) naming the version
 *   and why it is refused
 */
export async function loadVersion(root: string, name: string, version: number, served: JobSpec | undefined, opts: LoaderOptions): Promise<LoadedVersion> {
  const started = performance.now();
  const dir = versionDir(root, name, version);
  const { spec, manifest } = readModelManifest(dir);
  checkCompatible(name, version, spec, served);
  let parts;
  try {
    parts = buildModelParts(spec, { constantWeights: true }); // a version's dense weights never change
  } catch (err) {
    throw refuse(ERROR_CODES.INCOMPATIBLE_SPEC, name, version, `its job spec does not build a model here: ${(err as Error).message}`);
  }
  const budgets = budgetsOf(manifest, opts);
  const spills = [...budgets.values()].some((b) => b !== undefined);
  const tierDir = spills ? fs.mkdtempSync(path.join(opts.tierRoot!, `${name}-${version}-`)) : undefined;
  const tier = tierDir ? new LmdbRowTier({ dir: tierDir }) : undefined;
  const release = async (): Promise<void> => {
    await tier?.close();
    if (tierDir) fs.rmSync(tierDir, { recursive: true, force: true });
  };
  try {
    const store = new TableStore({ slabRows: SERVE_SLAB_ROWS, tier });
    await loadModel(dir, { store, chunkBytes: LOAD_CHUNK_BYTES, tableSpec: (saved) => servedTableSpec(saved, budgets.get(saved.name)) })
      .catch((err: Error) => { throw refuse((err as TesseraError).code ?? ERROR_CODES.CHECKPOINT_CORRUPT, name, version, err.message); });
    const dense = store.getDense(DENSE_TABLE).pull();
    if (dense.length !== parts.model.denseSize) {
      throw refuse(ERROR_CODES.INCOMPATIBLE_SPEC, name, version, `dense.f32 holds ${dense.length} weights; its spec's model needs ${parts.model.denseSize}`);
    }
    const stamp = fs.statSync(path.join(dir, MODEL_MANIFEST)).mtimeMs;
    const loaded = new LoadedVersion(name, version, spec, parts, store, dense, { dir, manifest, loadedAt: Date.now(), loadSeconds: 0, stamp }, release);
    await warmUp(loaded);
    loaded.origin.loadSeconds = (performance.now() - started) / 1000;
    return loaded;
  } catch (err) {
    parts.model.dispose();
    await release();
    throw err;
  }
}

/** Predicts a batch of empty rows; the version is refused unless every probability is in [0, 1]. */
async function warmUp(v: LoadedVersion): Promise<void> {
  const schema = schemaFor(v.spec.data.format);
  const probs = await v.predict(Array.from({ length: WARM_UP_ROWS }, () => newRawRow(schema)));
  const bad = Array.from(probs).find((p) => !(p >= 0 && p <= 1));
  if (bad !== undefined) throw refuse(ERROR_CODES.INTERNAL, v.name, v.version, `the warm-up batch predicted ${bad}, not a probability`);
}
