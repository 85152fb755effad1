/**
 * The saved-model format `tessera-model/1`: the trained weights without optimizer state. Training
 * writes it (`tessera train --out DIR`, the chief's `--checkpoint-dir`'s `model/`, and every
 * published version `ROOT/<name>/<version>/` of model-root.ts); `tessera eval` and `tessera
 * serve` read it. Documented in docs/model-format.md.
 *
 *   DIR/model.json        manifest: format, step, samples, spec fingerprint, tables, checksums
 *   DIR/spec.yaml         the canonical job spec the model was trained with
 *   DIR/tables/NAME.rows  per embedding table: repeated [u64 id LE][dim × f32 LE]
 *   DIR/dense.f32         the dense parameter vector, f32 LE
 *
 * Every file is fsynced and the manifest is written last. `saveModel` writes under a temporary
 * name and renames it into place, so a crash never leaves a half-written model under DIR.
 * Reading streams each table file in chunks (a model may be bigger than RAM when its tables spill
 * to a disk tier), verifying size and SHA-256 as it goes.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fsyncDir } from '../checkpoint/fs-durable';
import { asDiskError } from '../common/disk-errors';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { TableStore } from '../ps/store/table-store';
import type { EmbeddingTableSpec, TableSpec } from '../ps/store/table-store';
import { jobSpecToYaml, parseJobSpec, specFingerprint } from '../spec/job-spec';
import type { JobSpec } from '../spec/types';

/** `format` of model.json. */
export const MODEL_FORMAT = 'tessera-model/1';
/** The manifest's file name: a directory holding it is a saved model. */
export const MODEL_MANIFEST = 'model.json';
/** Bytes read per chunk of a table file, by default. */
const READ_CHUNK_BYTES = 1 << 20;

/** model.json. */
export interface ModelManifest {
  format: typeof MODEL_FORMAT;
  createdAt: string;
  step: number;
  samples: number;
  specFingerprint: string;
  tables: { spec: TableSpec; rows: number; file: string; sha256: string }[];
  dense: { spec: TableSpec; file: string; sha256: string };
}

/** A chunk of rows: ids as (lo, hi) pairs, values [n × dim]. */
export interface RowChunk { ids: Uint32Array; values: Float32Array; dim: number }

/** A source of rows for one table (PsAdminClient.exportTable has this shape). */
export type RowSource = (table: string, kind: 'embedding' | 'dense') => AsyncIterable<RowChunk>;

/** What a model directory is written from. */
export interface ModelContent {
  spec: JobSpec;
  tables: TableSpec[];
  dense: TableSpec;
  step: number;
  samples: number;
  rows: RowSource;
}

/** Writes `data` to `file` and fsyncs it. */
function writeDurable(file: string, data: string | Uint8Array): void {
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

async function writeTable(file: string, rows: AsyncIterable<RowChunk>): Promise<{ rows: number; sha256: string }> {
  const fd = fs.openSync(file, 'w');
  const hash = createHash('sha256');
  let count = 0;
  try {
    for await (const chunk of rows) {
      const n = chunk.ids.length >>> 1;
      const rec = Buffer.alloc(n * (8 + 4 * chunk.dim));
      for (let i = 0; i < n; i++) {
        const off = i * (8 + 4 * chunk.dim);
        rec.writeUInt32LE(chunk.ids[2 * i], off);
        rec.writeUInt32LE(chunk.ids[2 * i + 1], off + 4);
        Buffer.from(chunk.values.buffer, chunk.values.byteOffset + i * chunk.dim * 4, chunk.dim * 4).copy(rec, off + 8);
      }
      fs.writeSync(fd, rec);
      hash.update(rec);
      count += n;
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return { rows: count, sha256: hash.digest('hex') };
}

/**
 * Writes the model's files into the existing, empty directory `dir`, every file fsynced and
 * model.json last. Callers make the directory appear atomically (`saveModel`, `publishVersion`).
 */
export async function writeModel(dir: string, m: ModelContent): Promise<ModelManifest> {
  fs.mkdirSync(path.join(dir, 'tables'), { recursive: true });
  writeDurable(path.join(dir, 'spec.yaml'), jobSpecToYaml(m.spec));
  const tables: ModelManifest['tables'] = [];
  for (const t of m.tables) {
    const file = `tables/${t.name}.rows`;
    const r = await writeTable(path.join(dir, file), m.rows(t.name, 'embedding'));
    tables.push({ spec: t, rows: r.rows, file, sha256: r.sha256 });
  }
  let dense: Float32Array = new Float32Array(0);
  for await (const c of m.rows(m.dense.name, 'dense')) dense = c.values;
  const denseBytes = Buffer.from(dense.buffer, dense.byteOffset, dense.byteLength);
  writeDurable(path.join(dir, 'dense.f32'), denseBytes);
  const manifest: ModelManifest = {
    format: MODEL_FORMAT, createdAt: new Date().toISOString(), step: m.step, samples: m.samples,
    specFingerprint: specFingerprint(m.spec), tables,
    dense: { spec: m.dense, file: 'dense.f32', sha256: createHash('sha256').update(denseBytes).digest('hex') },
  };
  await fsyncDir(path.join(dir, 'tables'));
  writeDurable(path.join(dir, MODEL_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  await fsyncDir(dir);
  return manifest;
}

/**
 * Writes a model directory atomically (temp dir, fsync, rename), replacing what was at `dir`. On
 * any failure the temporary directory is removed, so a full disk is not left fuller; a disk error
 * (full, not writable, read-only) is thrown as TESSERA_ERR_CHECKPOINT_DIR, worded with `label`
 * ("model dir full (ENOSPC): …").
 */
export async function saveModel(dir: string, m: ModelContent, label = 'model dir'): Promise<ModelManifest> {
  const tmp = `${dir.replace(/\/+$/, '')}.tmp-${process.pid}`;
  try {
    fs.rmSync(tmp, { recursive: true, force: true });
    const manifest = await writeModel(tmp, m);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
    await fsyncDir(path.dirname(path.resolve(dir)));
    return manifest;
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw asDiskError(err, path.dirname(tmp), label);
  }
}

function fail(dir: string, what: string): TesseraError {
  return new TesseraError(ERROR_CODES.CHECKPOINT_CORRUPT, `model ${dir}: ${what}`);
}

/**
 * Reads and checks a model directory's manifest and job spec (no table is read).
 * @throws TesseraError CHECKPOINT_CORRUPT naming the directory and what is wrong
 */
export function readModelManifest(dir: string): { spec: JobSpec; manifest: ModelManifest } {
  const manifestPath = path.join(dir, MODEL_MANIFEST);
  if (!fs.existsSync(manifestPath)) throw fail(dir, `${MODEL_MANIFEST} not found (is this a model written by tessera train --out?)`);
  let manifest: ModelManifest;
  try {
    manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as ModelManifest;
  } catch (err) {
    throw fail(dir, `${MODEL_MANIFEST} is not valid JSON (${(err as Error).message})`);
  }
  if (manifest?.format !== MODEL_FORMAT) throw fail(dir, `format "${manifest?.format}", expected "${MODEL_FORMAT}"`);
  if (!Array.isArray(manifest.tables) || !manifest.dense) throw fail(dir, `${MODEL_MANIFEST} has no tables or dense entry`);
  const specPath = path.join(dir, 'spec.yaml');
  if (!fs.existsSync(specPath)) throw fail(dir, 'spec.yaml not found');
  let spec: JobSpec;
  try {
    spec = parseJobSpec(fs.readFileSync(specPath, 'utf8'), specPath);
  } catch (err) {
    throw new TesseraError(ERROR_CODES.INCOMPATIBLE_SPEC, `model ${dir}: spec.yaml: ${(err as Error).message}`);
  }
  if (specFingerprint(spec) !== manifest.specFingerprint) throw fail(dir, 'spec.yaml does not match the manifest\'s spec fingerprint');
  return { spec, manifest };
}

/** How `loadModel` builds the tables it fills. */
export interface LoadModelOptions {
  /** the store to fill (default: a new TableStore) */
  store?: TableStore;
  /** the spec each embedding table is created with (default: the manifest's) */
  tableSpec?: (saved: EmbeddingTableSpec) => EmbeddingTableSpec;
  /**
   * bytes read (and rows inserted) per step (default 1 MiB); each read yields to the event
   * loop, so a server loading a version keeps answering between steps
   */
  chunkBytes?: number;
}

/** Streams one table file into `table`, checking its size and SHA-256. */
async function readTable(dir: string, t: ModelManifest['tables'][number], store: TableStore, chunkBytes: number): Promise<void> {
  const table = store.getEmbedding(t.spec.name);
  const dim = table.dim;
  const rec = 8 + 4 * dim;
  const file = path.join(dir, t.file);
  const fh = await fs.promises.open(file, 'r').catch(() => { throw fail(dir, `${t.file} not found`); });
  try {
    const size = (await fh.stat()).size;
    if (size !== t.rows * rec) throw fail(dir, `${t.file}: ${size} bytes for ${t.rows} rows of dim ${dim}`);
    const hash = createHash('sha256');
    // Whole records per chunk; records are 4-byte multiples, so the word view below is aligned.
    const perChunk = Math.max(1, Math.floor(chunkBytes / rec));
    const buf = Buffer.allocUnsafeSlow(perChunk * rec);
    const words = new Uint32Array(buf.buffer, 0, buf.length >>> 2);
    const ids = new Uint32Array(2 * perChunk);
    const weights = new Float32Array(perChunk * dim);
    const weightWords = new Uint32Array(weights.buffer);
    for (let pos = 0; pos < size;) {
      const want = Math.min(buf.length, size - pos);
      for (let got = 0; got < want;) {
        const { bytesRead } = await fh.read(buf, got, want - got, pos + got);
        if (bytesRead === 0) throw fail(dir, `${t.file}: ended at byte ${pos + got} of ${size}`);
        got += bytesRead;
      }
      hash.update(buf.subarray(0, want));
      const n = want / rec;
      for (let k = 0, w = 0; k < n; k++, w += rec >>> 2) {
        ids[2 * k] = words[w];
        ids[2 * k + 1] = words[w + 1];
        for (let d = 0; d < dim; d++) weightWords[k * dim + d] = words[w + 2 + d];
      }
      table.putRows(ids, weights, n);
      pos += want;
    }
    if (hash.digest('hex') !== t.sha256) throw fail(dir, `${t.file}: checksum mismatch`);
  } finally {
    await fh.close();
  }
}

/**
 * Reads a model directory into a TableStore, verifying every file's size and SHA-256.
 *
 * ```ts
 * const { spec, store } = await loadModel('models/ctr/3');
 * store.getEmbedding('emb').peek(ids, out);
 * ```
 *
 * @throws TesseraError CHECKPOINT_CORRUPT (missing file, wrong size, checksum mismatch) or
 *   INCOMPATIBLE_SPEC (a spec this build cannot read), naming the directory and file
 */
export async function loadModel(dir: string, opts: LoadModelOptions = {}): Promise<{ spec: JobSpec; manifest: ModelManifest; store: TableStore }> {
  const { spec, manifest } = readModelManifest(dir);
  const store = opts.store ?? new TableStore();
  for (const t of manifest.tables) {
    const saved = t.spec as EmbeddingTableSpec;
    // Sized for every row up front: the rows come in the order of the exporting PS's index,
    // sorted by hash, and a growing index fed keys in hash order degrades to quadratic probing
    // (a 150k-row table took 4 s instead of 40 ms).
    store.create(opts.tableSpec ? opts.tableSpec(saved) : saved, { initialCapacity: t.rows });
    await readTable(dir, t, store, opts.chunkBytes ?? READ_CHUNK_BYTES);
  }
  const denseBuf = await fs.promises.readFile(path.join(dir, manifest.dense.file)).catch(() => { throw fail(dir, `${manifest.dense.file} not found`); });
  if (createHash('sha256').update(denseBuf).digest('hex') !== manifest.dense.sha256) throw fail(dir, `${manifest.dense.file}: checksum mismatch`);
  store.create(manifest.dense.spec);
  const dense = store.getDense(manifest.dense.spec.name);
  if (denseBuf.byteLength !== 4 * dense.size) throw fail(dir, `${manifest.dense.file}: ${denseBuf.byteLength} bytes for ${dense.size} floats`);
  dense.restore(new Float32Array(denseBuf.buffer.slice(denseBuf.byteOffset, denseBuf.byteOffset + denseBuf.byteLength)), dense.state);
  return { spec, manifest, store };
}
