/** Shared helpers for the data-reader tests: sample-file paths, temp files, and a line oracle. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LineInfo, ReadLinesOptions, readLines } from '../../../src/data/line-reader';
import { ByteRange, splitByteRanges } from '../../../src/data/splits';
import { mulberry32Unit } from '../../../src/common/mulberry32';

/** /work/shared/data: five levels up from dist/test/unit/data is the repo's parent directory. */
const SHARED_DATA = path.resolve(__dirname, '../../../../../shared/data');
/** Real Criteo DAC sample: 8,000 labelled lines. */
export const CRITEO_SAMPLE = path.join(SHARED_DATA, 'criteo_dac/train_rows_00001-08000.txt');
/** Real Avazu sample: header + 8,999 lines. */
export const AVAZU_SAMPLE = path.join(SHARED_DATA, 'avazu/train_rows_0001-8999.csv');

/** Skips the current test (with a reason) when a sample file is absent. */
export function requireFile(ctx: Mocha.Context, file: string): void {
  if (!fs.existsSync(file)) {
    console.warn(`    skipped: sample data file ${file} is absent`);
    ctx.skip();
  }
}

/** A fresh temp directory; remove it with removeTmpDir. */
export function makeTmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-data-'));
}

export function removeTmpDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Writes `content` to dir/name and returns the path. */
export function writeTmp(dir: string, name: string, content: string | Buffer): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

/** Independent oracle: the lines of `content` (split on '\n', '\r' stripped, no phantom last line). */
export function oracleLines(content: Buffer | string): string[] {
  const text = typeof content === 'string' ? content : content.toString('utf8');
  if (text.length === 0) return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}

/** All LineInfos of one range. */
export async function collect(file: string, range?: ByteRange, opts?: ReadLinesOptions): Promise<LineInfo[]> {
  const out: LineInfo[] = [];
  for await (const info of readLines(file, range, opts)) out.push(info);
  return out;
}

/** The lines of every range, concatenated in range order. */
export async function collectRanges(file: string, ranges: ByteRange[], opts?: ReadLinesOptions): Promise<LineInfo[]> {
  const out: LineInfo[] = [];
  for (const r of ranges) out.push(...(await collect(file, r, opts)));
  return out;
}

/** The lines of `n` even splits of `file`, concatenated in range order. */
export async function collectSplits(file: string, n: number, opts?: ReadLinesOptions): Promise<LineInfo[]> {
  return collectRanges(file, splitByteRanges(fs.statSync(file).size, n), opts);
}

/** A deterministic small PRNG (mulberry32) for property tests: doubles in [0, 1). */
export const rng = mulberry32Unit;
