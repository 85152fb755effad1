/**
 * `manifest.json`: what makes a checkpoint directory a checkpoint. It is written last and
 * atomically, so a directory without one is an unfinished write (ignored by `ls`, `latest` and
 * restore, removed by GC). docs/checkpoint-format.md describes every field.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { ChunkKind } from './chunk-format';
import { writeFileAtomic } from './fs-durable';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_FORMAT = 1;

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

/** The manifest of one checkpoint. */
export interface Manifest {
  format: 1;
  id: string;
  kind: 'full' | 'incremental';
  /** incremental: the checkpoint this one applies on top of; null for full */
  base: string | null;
  /** ISO-8601 */
  createdAt: string;
  numBuckets: number;
  shardMapVersion: number;
  /** wire-level table specs (tableSpecToWire), optimizer and memory options included */
  tables: Record<string, unknown>[];
  files: CheckpointFileEntry[];
  /** unused: tombstones travel as `kind: 'tombstones'` files */
  tombstones?: unknown;
  /** opaque JSON the chief fills: spec yaml + fingerprint, step, epoch, data positions, pause_ms */
  job: unknown;
}

function bad(file: string, what: string): TesseraError {
  return new TesseraError(ERROR_CODES.CHECKPOINT_CORRUPT, `${file}: ${what}`);
}

/** Checks a parsed manifest's shape; errors name the file and the field. */
export function validateManifest(m: unknown, file: string): Manifest {
  if (typeof m !== 'object' || m === null) throw bad(file, 'not a JSON object');
  const o = m as Record<string, unknown>;
  if (o.format !== MANIFEST_FORMAT) throw bad(file, `format: expected ${MANIFEST_FORMAT}, got ${JSON.stringify(o.format)}`);
  if (typeof o.id !== 'string' || !o.id) throw bad(file, 'id: missing');
  if (o.kind !== 'full' && o.kind !== 'incremental') throw bad(file, `kind: must be full or incremental, got ${JSON.stringify(o.kind)}`);
  if (o.kind === 'incremental' && (typeof o.base !== 'string' || !o.base)) throw bad(file, 'base: an incremental checkpoint needs its base id');
  if (o.kind === 'full' && o.base !== null) throw bad(file, 'base: a full checkpoint has base null');
  if (!Number.isInteger(o.numBuckets) || (o.numBuckets as number) < 1) throw bad(file, 'numBuckets: must be a positive integer');
  if (!Array.isArray(o.tables)) throw bad(file, 'tables: must be an array');
  if (!Array.isArray(o.files)) throw bad(file, 'files: must be an array');
  o.files.forEach((f: unknown, i: number) => {
    const e = f as Record<string, unknown>;
    const ok = typeof e === 'object' && e !== null && typeof e.path === 'string' && typeof e.table === 'string'
      && [e.ps, e.bucketStart, e.bucketEnd, e.rows, e.bytes].every(Number.isInteger) && typeof e.checksum === 'string';
    if (!ok) throw bad(file, `files[${i}]: needs path, ps, table, bucketStart, bucketEnd, rows, bytes, checksum`);
    if (path.isAbsolute(e.path as string) || (e.path as string).split(/[\\/]/).includes('..')) throw bad(file, `files[${i}].path: must stay inside the checkpoint directory`);
  });
  return o as unknown as Manifest;
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
