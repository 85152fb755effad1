/**
 * The saved-model format: the trained weights without optimizer state, written by `tessera train
 * --out DIR` and by the chief at the end of a job (`--checkpoint-dir`'s `model/`), read by
 * `tessera eval`. Checkpoints (src/checkpoint) are the other thing eval reads; they also hold the
 * optimizer state and data positions a job resumes from. Documented in docs/model-format.md.
 *
 *   DIR/model.json        manifest: format, step, samples, spec fingerprint, tables, checksums
 *   DIR/spec.yaml         the canonical job spec the model was trained with
 *   DIR/tables/NAME.rows  per embedding table: repeated [u64 id LE][dim × f32 LE]
 *   DIR/dense.f32         the dense parameter vector, f32 LE
 *
 * The directory is written under a temporary name and renamed into place, manifest last, so a
 * crash never leaves a half-written model under DIR.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { asDiskError } from '../common/disk-errors';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { TableStore } from '../ps/store/table-store';
import type { TableSpec } from '../ps/store/table-store';
import { jobSpecToYaml, parseJobSpec, specFingerprint } from '../spec/job-spec';
import type { JobSpec } from '../spec/types';
import { LocalParams } from './local-params';

export const MODEL_FORMAT = 'tessera-model/1';

export interface ModelManifest {
  format: typeof MODEL_FORMAT;
  createdAt: string;
  step: number;
  samples: number;
  specFingerprint: string;
  tables: { spec: TableSpec; rows: number; file: string; sha256: string }[];
  dense: { spec: TableSpec; file: string; sha256: string };
}

/** A source of rows for one table (PsAdminClient.exportTable has this shape). */
export type RowSource = (table: string, kind: 'embedding' | 'dense') => AsyncIterable<{ ids: Uint32Array; values: Float32Array; dim: number }>;

async function writeTable(file: string, rows: AsyncIterable<{ ids: Uint32Array; values: Float32Array; dim: number }>): Promise<{ rows: number; sha256: string }> {
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

/** What saveModel writes: the spec, the tables' specs and rows, the dense table, and counters. */
export interface ModelContent {
  spec: JobSpec;
  tables: TableSpec[];
  dense: TableSpec;
  step: number;
  samples: number;
  rows: RowSource;
}

/**
 * Writes a model directory atomically (temp dir, fsync, rename). On any failure the temporary
 * directory is removed, so a full disk is not left fuller; a disk error (full, not writable,
 * read-only) is thrown as TESSERA_ERR_CHECKPOINT_DIR, worded with `label` ("model dir full
 * (ENOSPC): …").
 */
export async function saveModel(dir: string, m: ModelContent, label = 'model dir'): Promise<ModelManifest> {
  const tmp = `${dir.replace(/\/+$/, '')}.tmp-${process.pid}`;
  try {
    return await writeModel(dir, tmp, m);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw asDiskError(err, path.dirname(tmp), label);
  }
}

async function writeModel(dir: string, tmp: string, m: ModelContent): Promise<ModelManifest> {
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(path.join(tmp, 'tables'), { recursive: true });
  fs.writeFileSync(path.join(tmp, 'spec.yaml'), jobSpecToYaml(m.spec));
  const tables: ModelManifest['tables'] = [];
  for (const t of m.tables) {
    const file = `tables/${t.name}.rows`;
    const r = await writeTable(path.join(tmp, file), m.rows(t.name, 'embedding'));
    tables.push({ spec: t, rows: r.rows, file, sha256: r.sha256 });
  }
  let dense: Float32Array = new Float32Array(0);
  for await (const c of m.rows(m.dense.name, 'dense')) dense = c.values;
  fs.writeFileSync(path.join(tmp, 'dense.f32'), Buffer.from(dense.buffer, dense.byteOffset, dense.byteLength));
  const manifest: ModelManifest = {
    format: MODEL_FORMAT, createdAt: new Date().toISOString(), step: m.step, samples: m.samples,
    specFingerprint: specFingerprint(m.spec), tables,
    dense: { spec: m.dense, file: 'dense.f32', sha256: createHash('sha256').update(Buffer.from(dense.buffer, dense.byteOffset, dense.byteLength)).digest('hex') },
  };
  fs.writeFileSync(path.join(tmp, 'model.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
  return manifest;
}

function fail(dir: string, what: string): TesseraError {
  return new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `model ${dir}: ${what}`);
}

/** Reads a model directory into an in-process store, verifying checksums. */
export function loadModel(dir: string): { spec: JobSpec; manifest: ModelManifest; params: LocalParams } {
  const manifestPath = path.join(dir, 'model.json');
  if (!fs.existsSync(manifestPath)) throw fail(dir, 'model.json not found (is this a model written by tessera train --out?)');
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as ModelManifest;
  if (manifest.format !== MODEL_FORMAT) throw fail(dir, `format "${manifest.format}", expected "${MODEL_FORMAT}"`);
  const spec = parseJobSpec(fs.readFileSync(path.join(dir, 'spec.yaml'), 'utf8'), path.join(dir, 'spec.yaml'));
  const store = new TableStore();
  for (const t of manifest.tables) {
    const buf = fs.readFileSync(path.join(dir, t.file));
    if (createHash('sha256').update(buf).digest('hex') !== t.sha256) throw fail(dir, `${t.file}: checksum mismatch`);
    store.create(t.spec);
    const table = store.getEmbedding(t.spec.name);
    const dim = table.dim;
    const rec = 8 + 4 * dim;
    if (buf.length !== t.rows * rec) throw fail(dir, `${t.file}: ${buf.length} bytes for ${t.rows} rows of dim ${dim}`);
    const state = new Float32Array(table.stateWidth);
    const aligned = new Float32Array(dim);
    for (let i = 0; i < t.rows; i++) {
      const off = i * rec;
      for (let d = 0; d < dim; d++) aligned[d] = buf.readFloatLE(off + 8 + 4 * d);
      table.putRow(buf.readUInt32LE(off), buf.readUInt32LE(off + 4), aligned, state);
    }
  }
  const denseBuf = fs.readFileSync(path.join(dir, manifest.dense.file));
  if (createHash('sha256').update(denseBuf).digest('hex') !== manifest.dense.sha256) throw fail(dir, `${manifest.dense.file}: checksum mismatch`);
  store.create(manifest.dense.spec);
  const dense = store.getDense(manifest.dense.spec.name);
  dense.restore(new Float32Array(denseBuf.buffer.slice(denseBuf.byteOffset, denseBuf.byteOffset + denseBuf.byteLength)), dense.state);
  return { spec, manifest, params: new LocalParams(store) };
}
