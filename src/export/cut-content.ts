/**
 * A consistent cut, as the PS wrote it in the checkpoint format (docs/checkpoint-format.md), read
 * back as model content: the weights of every row written (optimizer state dropped), the
 * tombstones of an incremental cut, and the dense vectors. The delta publisher turns an
 * incremental cut into a delta (delta-dir.ts) and a full cut into a full model version
 * (model-dir.ts), so sparse rows and dense weights always come from the same instant.
 */
import * as path from 'node:path';
import { readChunks } from '../checkpoint/chunk-format';
import type { Manifest } from '../checkpoint/manifest';
import { verifyFile } from '../checkpoint/verify';
import { concatTyped } from '../common/concat-typed';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { tableSpecOfLayout } from '../ps/table-layout';
import type { TableSpec } from '../ps/store/table-spec';
import { decodeF16 } from '../wire/f16';
import type { DeltaTable } from './delta-dir';
import type { RowSource } from './model-dir';

/** What a cut holds, weights only. */
export interface CutContent {
  /** Every embedding table of the cut (empty when no row of it was written). */
  tables: DeltaTable[];
  /** Every dense table's whole vector. */
  dense: Map<string, Float32Array>;
  /** The table specs as the PS held them at the cut. */
  specs: TableSpec[];
}

interface Parts { ids: Uint32Array[]; weights: Float32Array[]; tombs: Uint32Array[] }

function weightsOf(w: Float32Array | Uint16Array): Float32Array {
  if (w instanceof Float32Array) return w.slice();
  const out = new Float32Array(w.length);
  decodeF16(w, out);
  return out;
}

/**
 * Reads every file of the cut `manifest` under `dir`, each checked against the manifest (size,
 * CRC-32, every chunk's header and payload).
 * @throws TesseraError CHECKPOINT_CORRUPT naming the file at fault
 */
export async function readCutContent(dir: string, manifest: Manifest): Promise<CutContent> {
  const parts = new Map<string, Parts>();
  const dense = new Map<string, Float32Array>();
  for (const t of manifest.tables) if (t.kind === 'embedding') parts.set(t.name, { ids: [], weights: [], tombs: [] });
  for (const f of manifest.files) {
    const buf = await verifyFile(dir, f);
    for (const c of readChunks(buf, path.join(dir, f.path), false)) {
      if (c.header.kind === 'dense') {
        dense.set(c.header.table, weightsOf(c.weights));
        continue;
      }
      const p = parts.get(c.header.table);
      if (!p) throw new TesseraError(ERROR_CODES.CHECKPOINT_CORRUPT, `${path.join(dir, f.path)}: table "${c.header.table}" is not an embedding table of the manifest`);
      if (c.header.kind === 'tombstones') {
        p.tombs.push(c.ids.slice());
        continue;
      }
      p.ids.push(c.ids.slice());
      p.weights.push(weightsOf(c.weights));
    }
  }
  const tables = manifest.tables.filter((t) => t.kind === 'embedding').map((t): DeltaTable => {
    const p = parts.get(t.name)!;
    return {
      name: t.name, dim: t.dim ?? 0,
      ids: concatTyped(p.ids, (n) => new Uint32Array(n)),
      weights: concatTyped(p.weights, (n) => new Float32Array(n)),
      tombstones: concatTyped(p.tombs, (n) => new Uint32Array(n)),
    };
  });
  return { tables, dense, specs: manifest.tables.map(tableSpecOfLayout) };
}

/** The rows of a full cut as a saved model's row source (one chunk per table). */
export function cutRowSource(cut: CutContent): RowSource {
  return async function* rows(table, kind) {
    if (kind === 'dense') {
      const values = cut.dense.get(table);
      if (values) yield { ids: new Uint32Array(0), values, dim: values.length };
      return;
    }
    const t = cut.tables.find((x) => x.name === table);
    if (t) yield { ids: t.ids, values: t.weights, dim: t.dim };
  };
}
