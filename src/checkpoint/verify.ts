/**
 * `verifyCheckpoint`: reads every chunk of a checkpoint and of every checkpoint its chain needs,
 * checks every checksum, and checks each file against its manifest entry. Faults are collected
 * (each names the file, and the chunk when one is at fault) rather than stopping at the first.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { TesseraError } from '../common/errors';
import { readChunks } from './chunk-format';
import type { CheckpointFileEntry, Manifest } from './manifest';
import { resolveChain } from './catalog';

/** What verify read and found. */
export interface VerifyReport {
  id: string;
  /** ids of the chain, oldest first (just `id` for a full checkpoint) */
  chain: string[];
  files: number;
  chunks: number;
  bytes: number;
  /** rows per table in `id`'s own files */
  rows: Record<string, number>;
  /** empty when the checkpoint is sound */
  faults: string[];
}

/** `crc32:` + 8 hex digits. */
export function formatChecksum(crc: number): string {
  return `crc32:${(crc >>> 0).toString(16).padStart(8, '0')}`;
}

/** Reads one chunk file and checks it against its entry; returns the chunk count. Throws on a fault. */
export async function verifyFile(dir: string, e: CheckpointFileEntry): Promise<Buffer> {
  const file = path.join(dir, e.path);
  let buf: Buffer;
  try {
    buf = await fs.promises.readFile(file);
  } catch (err) {
    throw new TesseraError('TESSERA_ERR_CHECKPOINT_CORRUPT', `${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let rows = 0;
  for (const c of readChunks(buf, file)) {
    const where = `${file} chunk ${c.index} (offset ${c.offset})`;
    if (c.header.table !== e.table) throw new TesseraError('TESSERA_ERR_CHECKPOINT_CORRUPT', `${where}: holds table "${c.header.table}", the manifest says "${e.table}"`);
    if ((e.kind ?? 'rows') !== c.header.kind) throw new TesseraError('TESSERA_ERR_CHECKPOINT_CORRUPT', `${where}: is a ${c.header.kind} chunk, the manifest says ${e.kind ?? 'rows'}`);
    if (c.header.bucketStart < e.bucketStart || c.header.bucketEnd > e.bucketEnd) {
      throw new TesseraError('TESSERA_ERR_CHECKPOINT_CORRUPT', `${where}: buckets [${c.header.bucketStart}, ${c.header.bucketEnd}) outside the file's [${e.bucketStart}, ${e.bucketEnd})`);
    }
    rows += c.header.rows;
  }
  if (buf.length !== e.bytes) throw new TesseraError('TESSERA_ERR_CHECKPOINT_CORRUPT', `${file}: ${buf.length} bytes, the manifest says ${e.bytes}`);
  if (rows !== e.rows) throw new TesseraError('TESSERA_ERR_CHECKPOINT_CORRUPT', `${file}: ${rows} rows, the manifest says ${e.rows}`);
  const sum = formatChecksum(zlib.crc32(buf));
  if (sum !== e.checksum) throw new TesseraError('TESSERA_ERR_CHECKPOINT_CORRUPT', `${file}: file checksum ${sum}, the manifest says ${e.checksum}`);
  return buf;
}

function manifestFaults(m: Manifest, dir: string): string[] {
  const faults: string[] = [];
  const names = new Set(m.tables.map((t) => String(t.name)));
  const paths = new Set<string>();
  for (const f of m.files) {
    if (paths.has(f.path)) faults.push(`${path.join(dir, f.path)}: listed twice in the manifest`);
    paths.add(f.path);
    if (!names.has(f.table)) faults.push(`${path.join(dir, f.path)}: table "${f.table}" is not in the manifest's tables`);
    if (f.bucketStart >= f.bucketEnd || f.bucketEnd > m.numBuckets) faults.push(`${path.join(dir, f.path)}: bucket range [${f.bucketStart}, ${f.bucketEnd}) outside [0, ${m.numBuckets})`);
  }
  return faults;
}

/** Verifies checkpoint `id` under `root` and its whole chain. Never throws for a fault it can name. */
export async function verifyCheckpoint(root: string, id: string): Promise<VerifyReport> {
  const report: VerifyReport = { id, chain: [], files: 0, chunks: 0, bytes: 0, rows: {}, faults: [] };
  let chain: Manifest[];
  try {
    chain = await resolveChain(root, id);
  } catch (err) {
    report.faults.push((err as Error).message);
    return report;
  }
  report.chain = chain.map((m) => m.id);
  for (const m of chain) {
    const dir = path.join(root, m.id);
    report.faults.push(...manifestFaults(m, dir));
    for (const e of m.files) {
      try {
        const buf = await verifyFile(dir, e);
        report.files++;
        report.bytes += buf.length;
        for (const c of readChunks(buf, e.path, false)) report.chunks += c.index >= 0 ? 1 : 0;
        if (m.id === id && (e.kind ?? 'rows') === 'rows') report.rows[e.table] = (report.rows[e.table] ?? 0) + e.rows;
      } catch (err) {
        report.faults.push((err as Error).message);
      }
    }
  }
  return report;
}
