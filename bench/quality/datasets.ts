/**
 * The splits bench:quality trains and validates on, written into a scratch folder (the source
 * files are read where they lie, beside the repository, and never copied into it):
 * - `criteo`: Criteo DAC rows 1–6,000 train, rows 6,001–8,000 validate;
 * - `avazu`: the Avazu rows (after the header) split the same way; the PyTorch peer reads
 *   Criteo-format TSV only, so its copy carries the same 23 categorical strings Tessera's
 *   avazu schema sees, in the categorical columns of a Criteo line with empty integer columns;
 * - `synthetic`: `tessera gen` rows from a planted teacher, with the teacher's own AUC;
 * - `sequence`: `tessera gen --history` rows from a planted user-history teacher (ADR 0033).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseAvazuLine } from '../../src/data/parsers';
import { CRITEO_NUM_CATEGORICAL, CRITEO_NUM_INTEGER } from '../../src/data/record';
import { generate } from '../../src/gen/generate';
import { HISTORY_CATEGORIES, ITEM_FIELD } from '../../src/gen/history';

/** Repository root: this file is bench/quality/ in the sources, dist/bench/quality/ once compiled. */
const REPO_ROOT = path.resolve(__dirname, '..', '..', __dirname.includes(`${path.sep}dist${path.sep}`) ? '..' : '');
/** Where the shared samples lie by default: beside the repository. */
export const DEFAULT_DATA_DIR = path.resolve(REPO_ROOT, '..', 'shared', 'data');

/** Source files under the data folder. */
const CRITEO_FILE = path.join('criteo_dac', 'train_rows_00001-08000.txt');
const AVAZU_FILE = path.join('avazu', 'train_rows_0001-8999.csv');

/** One train/validation split, with the files the peer reads. */
export interface Split {
  name: string;
  format: 'criteo' | 'avazu';
  train: string;
  valid: string;
  /** Criteo-format copies for the PyTorch peer (the same files for Criteo-format data). */
  peerTrain: string;
  peerValid: string;
  /** The planted teacher's AUC on the validation rows (synthetic data only). */
  oracleAuc?: number;
}

/** Rows of each split. */
export interface SplitSizes {
  train: number;
  valid: number;
}

/** The data lines of `file`, without a header when `header` is set. */
function dataLines(file: string, header: boolean): string[] {
  const lines = readFileSync(file, 'utf8').split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.length > 0);
  return header ? lines.slice(1) : lines;
}

function writeLines(file: string, lines: readonly string[]): string {
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** `lines` cut into the first `train` and the next `valid`; refuses a source that is too short. */
function cut(name: string, lines: string[], sizes: SplitSizes): { train: string[]; valid: string[] } {
  if (lines.length < sizes.train + sizes.valid) {
    throw new Error(`${name}: ${lines.length} rows, fewer than ${sizes.train} + ${sizes.valid}; pass smaller --train-rows/--valid-rows`);
  }
  return { train: lines.slice(0, sizes.train), valid: lines.slice(sizes.train, sizes.train + sizes.valid) };
}

/** Criteo rows 1..train and train+1..train+valid; undefined (with the reason) when the file is absent. */
export function criteoSplit(dataDir: string, work: string, sizes: SplitSizes): Split | string {
  const src = path.join(dataDir, CRITEO_FILE);
  if (!existsSync(src)) return `criteo: ${src} not found`;
  const { train, valid } = cut('criteo', dataLines(src, false), sizes);
  const t = writeLines(path.join(work, 'criteo-train.tsv'), train);
  const v = writeLines(path.join(work, 'criteo-valid.tsv'), valid);
  return { name: 'criteo', format: 'criteo', train: t, valid: v, peerTrain: t, peerValid: v };
}

/** An Avazu line as a Criteo DAC line: label, 13 empty integers, the categoricals padded to 26. */
export function avazuAsCriteo(line: string): string {
  const row = parseAvazuLine(line);
  const cats = row.categorical.map((c) => c ?? '');
  if (cats.length > CRITEO_NUM_CATEGORICAL) throw new Error(`avazu rows have ${cats.length} categoricals, more than Criteo's ${CRITEO_NUM_CATEGORICAL}`);
  const padded = [...cats, ...new Array<string>(CRITEO_NUM_CATEGORICAL - cats.length).fill('')];
  return [String(row.label), ...new Array<string>(CRITEO_NUM_INTEGER).fill(''), ...padded].join('\t');
}

/** Avazu rows split like Criteo's, plus the peer's Criteo-format copies. */
export function avazuSplit(dataDir: string, work: string, sizes: SplitSizes): Split | string {
  const src = path.join(dataDir, AVAZU_FILE);
  if (!existsSync(src)) return `avazu: ${src} not found`;
  const { train, valid } = cut('avazu', dataLines(src, true), sizes);
  return {
    name: 'avazu', format: 'avazu',
    train: writeLines(path.join(work, 'avazu-train.csv'), train),
    valid: writeLines(path.join(work, 'avazu-valid.csv'), valid),
    peerTrain: writeLines(path.join(work, 'avazu-train.peer.tsv'), train.map(avazuAsCriteo)),
    peerValid: writeLines(path.join(work, 'avazu-valid.peer.tsv'), valid.map(avazuAsCriteo)),
  };
}

/** `tessera gen` rows (seed `seed`) from a planted teacher, with its AUC on the validation rows. */
export async function syntheticSplit(work: string, sizes: SplitSizes, seed: number): Promise<Split> {
  const train = path.join(work, 'synthetic-train.tsv');
  const valid = path.join(work, 'synthetic-valid.tsv');
  const g = await generate({ rows: sizes.train, seed, out: train, evalRows: sizes.valid, evalOut: valid });
  return { name: 'synthetic', format: 'criteo', train, valid, peerTrain: train, peerValid: valid, oracleAuc: g.eval?.oracleAuc };
}

/** Longest history of the `sequence` rows (examples/synthetic-din.yaml keeps all of it). */
export const SEQUENCE_MAX_LEN = 20;

/**
 * `tessera gen --history` rows (seed `seed`): a weak base teacher (logit sd 0.5) whose 1e6-id
 * fields are not learnt from this many rows, and C1 with one item per history category, so what
 * there is to learn is how the candidate relates to the history (ADR 0033's DIN setting).
 */
export async function sequenceSplit(work: string, sizes: SplitSizes, seed: number): Promise<Split> {
  const train = path.join(work, 'sequence-train.tsv');
  const valid = path.join(work, 'sequence-valid.tsv');
  const vocab = new Array<number>(CRITEO_NUM_CATEGORICAL).fill(1e6);
  vocab[ITEM_FIELD] = HISTORY_CATEGORIES;
  const g = await generate({
    rows: sizes.train, seed, out: train, evalRows: sizes.valid, evalOut: valid, vocab, history: SEQUENCE_MAX_LEN, logitStd: 0.5,
  });
  return { name: 'sequence', format: 'criteo', train, valid, peerTrain: train, peerValid: valid, oracleAuc: g.eval?.oracleAuc };
}
