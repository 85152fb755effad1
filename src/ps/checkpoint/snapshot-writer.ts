/**
 * Drains a PS's SnapshotCursor into chunk files under `ROOT/<id>/ps-<psId>/` while the PS keeps
 * serving: one `next()` (one slab, synchronous) at a time, its rows split by bucket range into
 * chunks appended to one file per (table, bucket range); then tombstones and dense tables; then
 * every file and both directories are fsynced. The manifest is not written here: the chief
 * writes it once every PS is done.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import type { SnapshotCursor } from './snapshot-cursor';
import { ChunkHeader, encodeChunk } from '../../checkpoint/chunk-format';
import { fsyncDir } from '../../checkpoint/fs-durable';
import type { CheckpointFileEntry } from '../../checkpoint/manifest';
import { formatChecksum } from '../../checkpoint/verify';

/** Most files per table and PS: the bucket space is cut into at most this many ranges. */
export const DEFAULT_FILE_RANGES = 16;
/**
 * Aimed-at bytes per file: a small table gets one file, not 16 tiny ones (a Criteo job has 54
 * tables; 16 files each, on each PS, made a checkpoint thousands of fsyncs).
 */
export const TARGET_FILE_BYTES = 32 << 20;
/** Ids per tombstone chunk. */
const TOMBSTONE_CHUNK_IDS = 1 << 20;

/** Where one PS writes its share of checkpoint `id`, and how the files are cut. */
export interface SnapshotWriteOptions {
  /** checkpoint root: files go to `root/<id>/ps-<psId>/` */
  root: string;
  psId: number;
  fileRanges?: number;
}

/** One open chunk file and its running totals. */
class ChunkFile {
  rows = 0;
  bytes = 0;
  private crc = 0;

  private constructor(private readonly fh: fs.promises.FileHandle, readonly entry: Omit<CheckpointFileEntry, 'rows' | 'bytes' | 'checksum'>) {}

  static async open(entry: Omit<CheckpointFileEntry, 'rows' | 'bytes' | 'checksum'>, base: string): Promise<ChunkFile> {
    return new ChunkFile(await fs.promises.open(path.join(base, entry.path), 'w'), entry);
  }

  async append(parts: Buffer[], rows: number): Promise<void> {
    let at = 0;
    while (at < parts.length) {
      const { bytesWritten } = await this.fh.writev(parts.slice(at));
      let left = bytesWritten;
      for (; at < parts.length && left >= parts[at].length; at++) {
        left -= parts[at].length;
        this.crc = zlib.crc32(parts[at], this.crc);
        this.bytes += parts[at].length;
      }
      if (left > 0) { // a short write: keep the rest of this part
        this.crc = zlib.crc32(parts[at].subarray(0, left), this.crc);
        this.bytes += left;
        parts[at] = parts[at].subarray(left);
      }
    }
    this.rows += rows;
  }

  async finish(): Promise<CheckpointFileEntry> {
    await this.fh.sync();
    await this.fh.close();
    return { ...this.entry, rows: this.rows, bytes: this.bytes, checksum: formatChecksum(this.crc) };
  }

  async abandon(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }
}

/**
 * Writes the snapshot; resolves with its file entries (paths relative to `root/<id>`).
 * Closes the cursor whatever happens.
 */
export async function writeSnapshot(cursor: SnapshotCursor, opts: SnapshotWriteOptions): Promise<CheckpointFileEntry[]> {
  const { cut } = cursor;
  const ckDir = path.join(opts.root, cut.id);
  const psRel = `ps-${opts.psId}`;
  const psDir = path.join(ckDir, psRel);
  const maxRanges = Math.max(1, Math.min(opts.fileRanges ?? DEFAULT_FILE_RANGES, cut.numBuckets));
  const layouts = new Map(cursor.layouts().map((l) => [l.table, l]));
  // Buckets per file, per table: enough files for ~TARGET_FILE_BYTES each, at most maxRanges.
  const perOf = new Map([...layouts.values()].map((l) => {
    const bytes = l.rows * (8 + 4 * (l.dim + l.stateWidth));
    const ranges = opts.fileRanges !== undefined ? maxRanges : Math.max(1, Math.min(maxRanges, Math.ceil(bytes / TARGET_FILE_BYTES)));
    return [l.table, Math.ceil(cut.numBuckets / ranges)];
  }));
  const files = new Map<string, ChunkFile>();
  const fileFor = async (key: string, entry: Omit<CheckpointFileEntry, 'rows' | 'bytes' | 'checksum'>): Promise<ChunkFile> => {
    let f = files.get(key);
    if (!f) {
      f = await ChunkFile.open(entry, ckDir);
      files.set(key, f);
    }
    return f;
  };
  try {
    await fs.promises.mkdir(psDir, { recursive: true });
    for (let b = cursor.next(); b; b = cursor.next()) {
      const lay = layouts.get(b.table)!;
      const per = perOf.get(b.table)!;
      const { dim, stateWidth: sw } = lay;
      for (let a = 0; a < b.rows;) {
        const range = Math.floor(b.buckets[a] / per);
        let e = a;
        while (e < b.rows && Math.floor(b.buckets[e] / per) === range) e++;
        const bucketStart = range * per;
        const bucketEnd = Math.min(cut.numBuckets, bucketStart + per);
        const f = await fileFor(`${b.table}/${range}`, {
          path: `${psRel}/${b.table}.b${bucketStart}-${bucketEnd}.rows`, ps: opts.psId, table: b.table, kind: 'rows', bucketStart, bucketEnd,
        });
        const h: Omit<ChunkHeader, 'payloadBytes' | 'payloadCrc'> = {
          kind: 'rows', weightFormat: lay.weightFormat, table: b.table, dim, stateWidth: sw, rows: e - a, bucketStart, bucketEnd,
        };
        await f.append(encodeChunk(h, b.ids.subarray(2 * a, 2 * e), b.weights.subarray(a * dim, e * dim), b.state.subarray(a * sw, e * sw)), e - a);
        a = e;
      }
    }
    await writeTombstones(cursor, psRel, opts.psId, fileFor);
    await writeDense(cursor, psRel, opts.psId, fileFor);
    const entries: CheckpointFileEntry[] = [];
    for (const f of files.values()) entries.push(await f.finish());
    files.clear();
    await fsyncDir(psDir);
    await fsyncDir(ckDir);
    return entries.sort((x, y) => (x.path < y.path ? -1 : 1));
  } finally {
    cursor.close();
    for (const f of files.values()) await f.abandon();
  }
}

type FileFor = (key: string, entry: Omit<CheckpointFileEntry, 'rows' | 'bytes' | 'checksum'>) => Promise<ChunkFile>;

async function writeTombstones(cursor: SnapshotCursor, psRel: string, psId: number, fileFor: FileFor): Promise<void> {
  const n = cursor.cut.numBuckets;
  for (const lay of cursor.layouts()) {
    const ids = cursor.tombstones(lay.table);
    if (ids.length === 0) continue;
    const f = await fileFor(`${lay.table}/tomb`, { path: `${psRel}/${lay.table}.tomb`, ps: psId, table: lay.table, kind: 'tombstones', bucketStart: 0, bucketEnd: n });
    for (let a = 0; a < ids.length / 2; a += TOMBSTONE_CHUNK_IDS) {
      const e = Math.min(ids.length / 2, a + TOMBSTONE_CHUNK_IDS);
      const h = { kind: 'tombstones' as const, weightFormat: 'f32' as const, table: lay.table, dim: 0, stateWidth: 0, rows: e - a, bucketStart: 0, bucketEnd: n };
      await f.append(encodeChunk(h, ids.subarray(2 * a, 2 * e), new Float32Array(0), new Float32Array(0)), e - a);
    }
  }
}

async function writeDense(cursor: SnapshotCursor, psRel: string, psId: number, fileFor: FileFor): Promise<void> {
  const n = cursor.cut.numBuckets;
  for (const d of cursor.dense) {
    const f = await fileFor(`${d.table}/dense`, { path: `${psRel}/${d.table}.dense`, ps: psId, table: d.table, kind: 'dense', bucketStart: 0, bucketEnd: n });
    const h = { kind: 'dense' as const, weightFormat: 'f32' as const, table: d.table, dim: d.values.length, stateWidth: d.state.length, rows: 1, bucketStart: 0, bucketEnd: n };
    await f.append(encodeChunk(h, new Uint32Array(0), d.values, d.state), 1);
  }
}
