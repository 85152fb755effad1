/**
 * Fixtures of the `tessera serve --follow` tests (issue 15): a real `tessera-delta/1` written
 * with the chief's own writer, holding exactly what changed between two saved models: the rows of
 * `to` (all of them: written since the parent), a tombstone for every row of `from` absent from
 * `to`, and `to`'s dense weights. Applied on `from`, it must serve what `to` serves.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DeltaTable, deltasDir, writeDelta } from '../../src/export/delta-dir';
import { loadModel } from '../../src/export/model-dir';

function rowsOf(store: Awaited<ReturnType<typeof loadModel>>['store'], table: string): Map<string, { lo: number; hi: number; w: Float32Array }> {
  const out = new Map<string, { lo: number; hi: number; w: Float32Array }>();
  store.getEmbedding(table).forEachRow((lo, hi, w) => out.set(`${lo}:${hi}`, { lo, hi, w: w.slice() }));
  return out;
}

/**
 * Publishes under `root` delta `version` on `parent`: model dir `fromDir` → model dir `toDir` (see
 * the file comment); `opts.fingerprint` replaces the spec fingerprint (a job whose spec changed).
 */
export async function publishDeltaBetween(root: string, name: string, fromDir: string, toDir: string, version: number, parent: number, opts: { fingerprint?: string } = {}): Promise<{ dir: string; rows: number; tombstones: number }> {
  const from = await loadModel(fromDir);
  const to = await loadModel(toDir);
  const tables: DeltaTable[] = [];
  for (const t of to.store.list()) {
    if (t.kind !== 'embedding') continue;
    const mine = rowsOf(to.store, t.name);
    const gone = [...rowsOf(from.store, t.name).entries()].filter(([k]) => !mine.has(k)).map(([, r]) => r);
    const rows = [...mine.values()];
    tables.push({
      name: t.name, dim: t.dim,
      ids: Uint32Array.from(rows.flatMap((r) => [r.lo, r.hi])),
      weights: Float32Array.from(rows.flatMap((r) => Array.from(r.w))),
      tombstones: Uint32Array.from(gone.flatMap((r) => [r.lo, r.hi])),
    });
  }
  const dense = to.store.list().find((t) => t.kind === 'dense')!.name;
  const out = await writeDelta(root, name, {
    version, parent, cutAt: Date.now(), step: to.manifest.step, samples: to.manifest.samples, specFingerprint: opts.fingerprint ?? to.manifest.specFingerprint, pauseMs: 1,
    tables, dense: { name: dense, values: to.store.getDense(dense).pull() },
  });
  return { dir: out.dir, rows: tables.reduce((n, t) => n + t.ids.length / 2, 0), tombstones: tables.reduce((n, t) => n + t.tombstones.length / 2, 0) };
}

/** Flips one byte in the middle of file `file` of delta `version` (its checksum no longer matches). */
export function flipByte(root: string, name: string, version: number, file: string): void {
  const p = path.join(deltasDir(root, name), String(version), file);
  const buf = fs.readFileSync(p);
  buf[buf.length >> 1] ^= 0xff;
  fs.writeFileSync(p, buf);
}
