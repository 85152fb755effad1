/**
 * Restore on one PS: reads the chunk files of a checkpoint chain that hold its buckets, checks
 * them all first (checksums, layouts; nothing is changed if any is bad), then clears those
 * buckets and loads the chain oldest first, each checkpoint's tombstones before its rows, and the
 * dense tables it was asked for. Rows load bit-exactly: weights in the table's stored format and
 * the optimizer state as saved.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ERROR_CODES, TesseraError } from '../../common/errors';
import { createOptimizer } from '../optimizers/registry';
import type { PsNode } from '../ps-node';
import { tableSpecOfLayout } from '../table-layout';
import { bucketOf } from '../../sharding/buckets';
import { resolveChain } from '../../checkpoint/catalog';
import { Chunk, readChunks } from '../../checkpoint/chunk-format';
import type { CheckpointFileEntry, Manifest, ManifestTable } from '../../checkpoint/manifest';
import { verifyFile } from '../../checkpoint/verify';

/** Bytes of verified files kept in memory between the check and the load (beyond that, re-read). */
const KEEP_VERIFIED_BYTES = 1 << 30;

/** What one PS restores: the checkpoint, its buckets now, and its dense tables. */
export interface RestoreOptions {
  root: string;
  id: string;
  /** bucket → 1 for the buckets this PS owns now; null: every bucket */
  buckets: Uint8Array | null;
  numBuckets: number;
  /** dense tables this PS should load */
  denseTables: string[];
}

interface Layout { dim: number; stateWidth: number; weightFormat: 'f32' | 'f16' }

function layoutOf(t: ManifestTable): { name: string; kind: 'embedding' | 'dense'; layout: Layout } {
  const spec = tableSpecOfLayout(t);
  const opt = createOptimizer(spec.optimizer);
  if (spec.kind === 'dense') return { name: spec.name, kind: 'dense', layout: { dim: spec.size, stateWidth: opt.stateWidth(spec.size), weightFormat: 'f32' } };
  return { name: spec.name, kind: 'embedding', layout: { dim: spec.dim, stateWidth: opt.stateWidth(spec.dim), weightFormat: spec.weightFormat ?? 'f32' } };
}

interface Planned { dir: string; entry: CheckpointFileEntry; file: string }

/** The files this PS needs, in load order. */
function plan(chain: Manifest[], opts: RestoreOptions, embedding: Set<string>): Planned[] {
  const wanted = (e: CheckpointFileEntry): boolean => {
    if (!opts.buckets) return true;
    for (let b = e.bucketStart; b < e.bucketEnd; b++) if (opts.buckets[b] === 1) return true;
    return false;
  };
  const out: Planned[] = [];
  const kindRank = (e: CheckpointFileEntry) => (e.kind === 'tombstones' ? 0 : 1);
  for (const m of chain) {
    const files = m.files.filter((e) => embedding.has(e.table) && (e.kind ?? 'rows') !== 'dense' && wanted(e)).sort((a, b) => kindRank(a) - kindRank(b));
    for (const entry of files) out.push({ dir: path.join(opts.root, m.id), entry, file: path.join(opts.root, m.id, entry.path) });
  }
  for (const name of opts.denseTables) {
    const m = [...chain].reverse().find((c) => c.files.some((e) => e.table === name && e.kind === 'dense'));
    if (!m) throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `dense_tables: checkpoint "${opts.id}" holds no dense table "${name}"`);
    const entry = m.files.find((e) => e.table === name && e.kind === 'dense')!;
    out.push({ dir: path.join(opts.root, m.id), entry, file: path.join(opts.root, m.id, entry.path) });
  }
  return out;
}

/** Restores checkpoint `opts.id` (and its chain) onto `node`; resolves with rows loaded per table. */
export async function restoreCheckpoint(node: PsNode, opts: RestoreOptions): Promise<{ table: string; rows: number }[]> {
  const chain = await resolveChain(opts.root, opts.id);
  const last = chain[chain.length - 1];
  if (last.numBuckets !== opts.numBuckets) {
    throw new TesseraError(ERROR_CODES.INCOMPATIBLE_SPEC, `checkpoint "${opts.id}" has ${last.numBuckets} buckets, the job's shard map has ${opts.numBuckets}`);
  }
  const layouts = new Map<string, Layout>();
  for (const t of last.tables) {
    const { name, kind, layout } = layoutOf(t);
    if (kind !== 'embedding') continue;
    try {
      node.checkRestorable(name, layout);
    } catch (err) {
      if (err instanceof TesseraError && err.code === ERROR_CODES.UNKNOWN_TABLE) {
        throw new TesseraError(ERROR_CODES.UNKNOWN_TABLE, `${err.message}; create the checkpoint's tables (CreateTable) before Restore`);
      }
      throw err;
    }
    layouts.set(name, layout);
  }
  const files = plan(chain, opts, new Set(layouts.keys()));
  const kept = new Map<string, Buffer>();
  let keptBytes = 0;
  for (const p of files) { // check everything before changing anything
    const buf = await verifyFile(p.dir, p.entry);
    for (const c of readChunks(buf, p.file, false)) checkLayout(c, p.file, layouts, node);
    if (keptBytes + buf.length <= KEEP_VERIFIED_BYTES) {
      kept.set(p.file, buf);
      keptBytes += buf.length;
    }
  }
  const owned = opts.buckets;
  const n = opts.numBuckets;
  for (const name of layouts.keys()) node.clearBuckets(name, owned);
  const rows = new Map<string, number>([...layouts.keys(), ...opts.denseTables].map((t) => [t, 0]));
  for (const p of files) {
    const buf = kept.get(p.file) ?? await fs.promises.readFile(p.file);
    kept.delete(p.file);
    for (const c of readChunks(buf, p.file, true)) {
      const t = c.header.table;
      const keep = owned ? (k: number) => owned[bucketOf(c.ids[2 * k], c.ids[2 * k + 1], n)] === 1 : undefined;
      if (c.header.kind === 'tombstones') node.deleteRows(t, c.ids, keep);
      else if (c.header.kind === 'dense') {
        node.restoreDense(t, c.weights as Float32Array, c.state);
        rows.set(t, 1);
      } else rows.set(t, rows.get(t)! + node.restoreRows(t, c.ids, c.weights, c.state, 0, c.header.rows, keep));
    }
  }
  node.finishRestore(opts.id);
  return [...rows].map(([table, r]) => ({ table, rows: r }));
}

function checkLayout(c: Chunk, file: string, layouts: Map<string, Layout>, node: PsNode): void {
  if (c.header.kind === 'dense') {
    const d = node.store.getDense(c.header.table);
    if (d.size !== c.header.dim || d.state.length !== c.header.stateWidth) {
      throw new TesseraError(ERROR_CODES.INCOMPATIBLE_SPEC,
        `${file}: dense table "${c.header.table}" has size ${c.header.dim} and state ${c.header.stateWidth} floats, this PS's has size ${d.size} and state ${d.state.length}`);
    }
    return;
  }
  if (c.header.kind !== 'rows') return;
  const want = layouts.get(c.header.table);
  if (!want) return;
  for (const field of ['dim', 'stateWidth', 'weightFormat'] as const) {
    if (c.header[field] !== want[field]) {
      throw new TesseraError(ERROR_CODES.INCOMPATIBLE_SPEC,
        `${file} chunk ${c.index}: table "${c.header.table}" has ${field} ${c.header[field]}, the checkpoint's spec (and this PS) says ${want[field]}`);
    }
  }
}
