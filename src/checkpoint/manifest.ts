/**
 * `manifest.json`: what makes a checkpoint directory a checkpoint. It is written last and
 * atomically, so a directory without one is an unfinished write (ignored by `ls`, `latest` and
 * restore, removed by GC). docs/checkpoint-format.md describes every field.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { ChunkKind } from './chunk-format';
import { isCheckpointId } from './checkpoint-id';
import { writeFileAtomic } from './fs-durable';
import { tableFromFormat1 } from './manifest-format1';
import type { ManifestTable } from './manifest-table';

export type { ManifestTable } from './manifest-table';

export const MANIFEST_FILE = 'manifest.json';
/**
 * The format this build writes. 2: tables are `ManifestTable` records. 1 (before issue 13):
 * tables in the gRPC TableSpec shape of that time, still read (manifest-format1.ts).
 */
export const MANIFEST_FORMAT = 2;

/** One chunk file of a checkpoint. */
export interface CheckpointFileEntry {
  /** relative to the checkpoint's directory, e.g. `ps-0/emb.b0-256.rows` */
  path: string;
  /** stable id of the PS that wrote it */
  ps: number;
  table: string;
  /** rows (default), tombstones (ids evicted since the base) or a dense table */
  kind?: ChunkKind;
  bucketStart: number;
  /** exclusive */
  bucketEnd: number;
  rows: number;
  bytes: number;
  /** `crc32:` and 8 hex digits, of the whole file */
  checksum: string;
}

/** The manifest of one checkpoint (tables in the `ManifestTable` shape whatever the file's format). */
export interface Manifest {
  format: 1 | 2;
  id: string;
  kind: 'full' | 'incremental';
  /** incremental: the checkpoint this one applies on top of; null for full */
  base: string | null;
  /** ISO-8601 */
  createdAt: string;
  numBuckets: number;
  shardMapVersion: number;
  /** the tables, sorted by name */
  tables: ManifestTable[];
  files: CheckpointFileEntry[];
  /** unused: tombstones travel as `kind: 'tombstones'` files */
  tombstones?: unknown;
  /** opaque JSON the chief fills: spec yaml + fingerprint, step, epoch, data positions, pause_ms */
  job: unknown;
}

function bad(file: string, what: string): TesseraError {
  return new TesseraError(ERROR_CODES.CHECKPOINT_CORRUPT, `${file}: ${what}`);
}

function checkTable(t: unknown, file: string, where: string): ManifestTable {
  const o = t as Record<string, unknown>;
  if (typeof o !== 'object' || o === null || typeof o.name !== 'string') throw bad(file, `${where}: needs a name`);
  if (o.kind !== 'embedding' && o.kind !== 'dense') throw bad(file, `${where}.kind: must be embedding or dense, got ${JSON.stringify(o.kind)}`);
  const width = o.kind === 'embedding' ? 'dim' : 'size';
  if (!Number.isInteger(o[width])) throw bad(file, `${where}.${width}: must be an integer`);
  const opt = o.optimizer as Record<string, unknown> | null;
  if (typeof opt !== 'object' || opt === null || typeof opt.kind !== 'string' || typeof opt.params !== 'object' || opt.params === null
    || !Object.values(opt.params).every((v) => typeof v === 'number')) {
    throw bad(file, `${where}.optimizer: must be {kind, params} with numeric params`);
  }
  const init = o.initializer as Record<string, unknown> | null;
  if (typeof init !== 'object' || init === null || typeof init.kind !== 'string') throw bad(file, `${where}.initializer: must be {kind, ...}`);
  return o as unknown as ManifestTable;
}

/** Checks a parsed manifest's shape; errors name the file and the field. Format-1 tables are converted. */
export function validateManifest(m: unknown, file: string): Manifest {
  if (typeof m !== 'object' || m === null) throw bad(file, 'not a JSON object');
  const o = m as Record<string, unknown>;
  if (o.format !== MANIFEST_FORMAT && o.format !== 1) throw bad(file, `format: expected 1 or ${MANIFEST_FORMAT}, got ${JSON.stringify(o.format)}`);
  // Ids name directories beside this one: never a path (`..`), so a manifest cannot lead a reader out of the root.
  if (!isCheckpointId(o.id)) throw bad(file, `id: ${JSON.stringify(o.id)} is not a checkpoint id`);
  if (o.kind !== 'full' && o.kind !== 'incremental') throw bad(file, `kind: must be full or incremental, got ${JSON.stringify(o.kind)}`);
  if (o.kind === 'incremental' && !isCheckpointId(o.base)) throw bad(file, `base: an incremental checkpoint needs its base id, got ${JSON.stringify(o.base)}`);
  if (o.kind === 'full' && o.base !== null) throw bad(file, 'base: a full checkpoint has base null');
  if (!Number.isInteger(o.numBuckets) || (o.numBuckets as number) < 1) throw bad(file, 'numBuckets: must be a positive integer');
  if (!Array.isArray(o.tables)) throw bad(file, 'tables: must be an array');
  const tables = o.tables.map((t: unknown, i: number) => checkTable(o.format === 1 ? tableFromFormat1(t, (what) => bad(file, `tables[${i}]: ${what}`)) : t, file, `tables[${i}]`));
  if (!Array.isArray(o.files)) throw bad(file, 'files: must be an array');
  o.files.forEach((f: unknown, i: number) => {
    const e = f as Record<string, unknown>;
    const ok = typeof e === 'object' && e !== null && typeof e.path === 'string' && typeof e.table === 'string'
      && [e.ps, e.bucketStart, e.bucketEnd, e.rows, e.bytes].every(Number.isInteger) && typeof e.checksum === 'string';
    if (!ok) throw bad(file, `files[${i}]: needs path, ps, table, bucketStart, bucketEnd, rows, bytes, checksum`);
    if (path.isAbsolute(e.path as string) || (e.path as string).split(/[\\/]/).includes('..')) throw bad(file, `files[${i}].path: must stay inside the checkpoint directory`);
  });
  return { ...o, tables } as unknown as Manifest;
}

/** Writes `DIR/manifest.json` atomically (tmp, fsync, rename, fsync dir). */
export async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  validateManifest(manifest, path.join(dir, MANIFEST_FILE));
  await writeFileAtomic(path.join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** Reads and validates `DIR/manifest.json`; CHECKPOINT_NOT_FOUND when there is none. */
export async function readManifest(dir: string): Promise<Manifest> {
  const file = path.join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await fs.promises.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new TesseraError(ERROR_CODES.CHECKPOINT_NOT_FOUND, `${dir}: no checkpoint here (no ${MANIFEST_FILE}; an unfinished write has none)`);
    }
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw bad(file, `not valid JSON (${(err as Error).message})`);
  }
  const m = validateManifest(parsed, file);
  if (m.id !== path.basename(dir)) throw bad(file, `id: "${m.id}" does not match its directory "${path.basename(dir)}"`);
  return m;
}
