/**
 * The delta format `tessera-delta/1` (docs/model-format.md, "Deltas"): what changed in a model
 * between two consistent cuts, weights only, written by the chief under the model root and
 * applied by `tessera serve --follow`.
 *
 *   ROOT/<name>/deltas/<version>/delta.json    manifest: version, parent, cut time, spec fingerprint, files
 *   ROOT/<name>/deltas/<version>/NAME.rows     per table: rows changed since the parent, [u64 id LE][dim × f32 LE]
 *   ROOT/<name>/deltas/<version>/NAME.tomb     per table: ids evicted or dropped since the parent, u64 LE
 *   ROOT/<name>/deltas/<version>/dense.f32     the whole dense parameter vector at the cut, f32 LE
 *
 * Versions share the model's number sequence (model-root.ts): a delta's parent is the version it
 * applies on, a full version or the previous delta. A delta appears atomically (temporary
 * directory, every file fsynced, manifest last, rename), and every file's size and SHA-256 is in
 * the manifest, so a reader either gets the whole delta verified or a CHECKPOINT_CORRUPT error
 * naming the file.
 *
 * ```ts
 * await writeDelta('/models', 'ctr', content);       // ROOT/ctr/deltas/<content.version>/
 * const d = await readDelta('/models', 'ctr', 7);    // verified, or throws
 * ```
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fsyncDir } from '../checkpoint/fs-durable';
import { asDiskError } from '../common/disk-errors';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { checkModelName, markPublished, versionOfDir } from './model-root';

/** `format` of delta.json. */
export const DELTA_FORMAT = 'tessera-delta/1';
/** The manifest's file name, written last. */
export const DELTA_MANIFEST = 'delta.json';
/** The folder of a model's deltas, beside its versions. */
export const DELTAS_DIR = 'deltas';

/** One table's part of a delta: changed rows (ids as (lo, hi) u32 pairs, weights n × dim) and tombstones. */
export interface DeltaTable {
  name: string;
  dim: number;
  ids: Uint32Array;
  weights: Float32Array;
  tombstones: Uint32Array;
}

/** A delta in memory: what the publisher writes and the follower applies. */
export interface DeltaContent {
  version: number;
  /** The version this delta applies on (a full version or the previous delta). */
  parent: number;
  /** When the cut was taken, ms since the Unix epoch (freshness is measured from it). */
  cutAt: number;
  step: number;
  samples: number;
  specFingerprint: string;
  /** The cut's pause, ms: from the chief's first round to every PS cut, the longest any push was held. */
  pauseMs: number;
  tables: DeltaTable[];
  /** The name of the dense table and its whole vector at the cut. */
  dense: { name: string; values: Float32Array };
}

/** A file of a delta, as the manifest lists it. */
interface DeltaFile { file: string; bytes: number; sha256: string }

/** delta.json. */
export interface DeltaManifest {
  format: typeof DELTA_FORMAT;
  version: number;
  parent: number;
  createdAt: string;
  cutAt: number;
  step: number;
  samples: number;
  specFingerprint: string;
  pauseMs: number;
  tables: { name: string; dim: number; rows: number; tombstones: number; weights: DeltaFile; tomb: DeltaFile }[];
  dense: DeltaFile & { name: string; size: number };
}

/** The directory holding model `name`'s deltas. */
export function deltasDir(root: string, name: string): string {
  return path.join(root, name, DELTAS_DIR);
}

/** Delta versions of model `name` under `root`, ascending; [] when there are none. */
export function listDeltas(root: string, name: string): number[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(deltasDir(root, name), { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return entries.filter((e) => e.isDirectory()).map((e) => versionOfDir(e.name))
    .filter((v): v is number => v !== undefined).sort((a, b) => a - b);
}

/** Rows as records [u64 id][dim × f32], the saved-model table layout. */
function encodeRows(t: DeltaTable): Buffer {
  const n = t.ids.length >>> 1;
  const words = new Uint32Array(n * (2 + t.dim));
  const w = new Uint32Array(t.weights.buffer, t.weights.byteOffset, n * t.dim);
  for (let i = 0, o = 0; i < n; i++) {
    words[o++] = t.ids[2 * i];
    words[o++] = t.ids[2 * i + 1];
    for (let d = 0; d < t.dim; d++) words[o++] = w[i * t.dim + d];
  }
  return Buffer.from(words.buffer);
}

function decodeRows(buf: Buffer, dim: number): { ids: Uint32Array; weights: Float32Array } {
  const words = new Uint32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const n = words.length / (2 + dim);
  const ids = new Uint32Array(2 * n);
  const weights = new Float32Array(n * dim);
  const ww = new Uint32Array(weights.buffer);
  for (let i = 0, o = 0; i < n; i++) {
    ids[2 * i] = words[o++];
    ids[2 * i + 1] = words[o++];
    for (let d = 0; d < dim; d++) ww[i * dim + d] = words[o++];
  }
  return { ids, weights };
}

function writeDurable(dir: string, file: string, data: Uint8Array): DeltaFile {
  const fd = fs.openSync(path.join(dir, file), 'w');
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return { file, bytes: data.byteLength, sha256: createHash('sha256').update(data).digest('hex') };
}

function viewOf(a: Uint32Array | Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Writes the delta's files and manifest (last) into the empty directory `dir`. */
function writeFiles(dir: string, c: DeltaContent): DeltaManifest {
  const tables = c.tables.map((t) => ({
    name: t.name, dim: t.dim, rows: t.ids.length >>> 1, tombstones: t.tombstones.length >>> 1,
    weights: writeDurable(dir, `${t.name}.rows`, encodeRows(t)),
    tomb: writeDurable(dir, `${t.name}.tomb`, viewOf(t.tombstones)),
  }));
  const dense = { name: c.dense.name, size: c.dense.values.length, ...writeDurable(dir, 'dense.f32', viewOf(c.dense.values)) };
  const manifest: DeltaManifest = {
    format: DELTA_FORMAT, version: c.version, parent: c.parent, createdAt: new Date().toISOString(), cutAt: c.cutAt,
    step: c.step, samples: c.samples, specFingerprint: c.specFingerprint, pauseMs: c.pauseMs, tables, dense,
  };
  writeDurable(dir, DELTA_MANIFEST, Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
  return manifest;
}

/**
 * Publishes `c` as ROOT/<name>/deltas/<c.version>/, atomically, and raises the model's
 * last-published mark so the next full version is numbered after it. Returns the manifest and
 * the bytes written. A version already there is an INTERNAL error (versions are never reused);
 * a disk error is TESSERA_ERR_CHECKPOINT_DIR ("export dir full (ENOSPC): …").
 */
export async function writeDelta(root: string, name: string, c: DeltaContent): Promise<{ manifest: DeltaManifest; bytes: number; dir: string }> {
  checkModelName(name);
  const parent = deltasDir(root, name);
  const dir = path.join(parent, String(c.version));
  let tmp: string | undefined;
  try {
    fs.mkdirSync(parent, { recursive: true });
    tmp = fs.mkdtempSync(path.join(parent, `.tmp-${process.pid}-`));
    fs.chmodSync(tmp, 0o755 & ~process.umask());
    const manifest = writeFiles(tmp, c);
    await fsyncDir(tmp);
    if (fs.existsSync(dir)) throw new TesseraError(ERROR_CODES.INTERNAL, `delta ${dir} already exists: delta versions are never reused`);
    fs.renameSync(tmp, dir);
    tmp = undefined;
    await fsyncDir(parent);
    await markPublished(path.join(root, name), c.version);
    const bytes = manifest.tables.reduce((n, t) => n + t.weights.bytes + t.tomb.bytes, manifest.dense.bytes);
    return { manifest, bytes, dir };
  } catch (err) {
    throw err instanceof TesseraError ? err : asDiskError(err, parent, 'export dir');
  } finally {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function corrupt(dir: string, what: string): TesseraError {
  return new TesseraError(ERROR_CODES.CHECKPOINT_CORRUPT, `delta ${dir}: ${what}`);
}

/** Reads delta.json and checks its shape. */
export function readDeltaManifest(root: string, name: string, version: number): DeltaManifest {
  const dir = path.join(deltasDir(root, name), String(version));
  let m: DeltaManifest;
  try {
    m = JSON.parse(fs.readFileSync(path.join(dir, DELTA_MANIFEST), 'utf8')) as DeltaManifest;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw corrupt(dir, code === 'ENOENT' ? `${DELTA_MANIFEST} not found` : `${DELTA_MANIFEST} unreadable (${code ?? (err as Error).message})`);
  }
  if (m?.format !== DELTA_FORMAT) throw corrupt(dir, `format "${m?.format}", expected "${DELTA_FORMAT}"`);
  if (m.version !== version) throw corrupt(dir, `${DELTA_MANIFEST} says version ${m.version}`);
  if (!Number.isInteger(m.parent) || m.parent >= version) throw corrupt(dir, `parent ${m.parent} is not an earlier version`);
  if (!Array.isArray(m.tables) || !m.dense) throw corrupt(dir, `${DELTA_MANIFEST} has no tables or dense entry`);
  return m;
}

async function readChecked(dir: string, f: DeltaFile): Promise<Buffer> {
  const buf = await fs.promises.readFile(path.join(dir, f.file)).catch(() => { throw corrupt(dir, `${f.file} not found`); });
  if (buf.byteLength !== f.bytes) throw corrupt(dir, `${f.file}: ${buf.byteLength} bytes, the manifest says ${f.bytes}`);
  if (createHash('sha256').update(buf).digest('hex') !== f.sha256) throw corrupt(dir, `${f.file}: checksum mismatch`);
  return buf;
}

/**
 * Reads delta `version` of model `name`, verifying every file's size and SHA-256 first.
 * @throws TesseraError CHECKPOINT_CORRUPT naming the delta directory and the file at fault
 */
export async function readDelta(root: string, name: string, version: number): Promise<DeltaContent> {
  const m = readDeltaManifest(root, name, version);
  const dir = path.join(deltasDir(root, name), String(version));
  const tables: DeltaTable[] = [];
  for (const t of m.tables) {
    const rows = await readChecked(dir, t.weights);
    if (rows.byteLength !== t.rows * (8 + 4 * t.dim)) throw corrupt(dir, `${t.weights.file}: ${rows.byteLength} bytes for ${t.rows} rows of dim ${t.dim}`);
    const tomb = await readChecked(dir, t.tomb);
    if (tomb.byteLength !== 8 * t.tombstones) throw corrupt(dir, `${t.tomb.file}: ${tomb.byteLength} bytes for ${t.tombstones} tombstones`);
    tables.push({ name: t.name, dim: t.dim, ...decodeRows(rows, t.dim), tombstones: new Uint32Array(tomb.buffer.slice(tomb.byteOffset, tomb.byteOffset + tomb.byteLength)) });
  }
  const dense = await readChecked(dir, m.dense);
  if (dense.byteLength !== 4 * m.dense.size) throw corrupt(dir, `${m.dense.file}: ${dense.byteLength} bytes for ${m.dense.size} floats`);
  return {
    version: m.version, parent: m.parent, cutAt: m.cutAt, step: m.step, samples: m.samples, specFingerprint: m.specFingerprint,
    pauseMs: m.pauseMs, tables, dense: { name: m.dense.name, values: new Float32Array(dense.buffer.slice(dense.byteOffset, dense.byteOffset + dense.byteLength)) },
  };
}

/** Deletes the deltas of model `name` numbered below `before`; returns the versions deleted. */
export function pruneDeltas(root: string, name: string, before: number): number[] {
  const gone = listDeltas(root, name).filter((v) => v < before);
  for (const v of gone) fs.rmSync(path.join(deltasDir(root, name), String(v)), { recursive: true, force: true });
  return gone;
}
