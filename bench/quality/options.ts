/**
 * bench:quality's command line. Every flag has a default sized for this 2-core machine (the
 * default run took about 40 minutes here under load, docs/benchmarks.md); the flags size it.
 */
import * as path from 'node:path';
import { MODEL_KINDS } from '../../src/spec/types';
import type { ModelKind } from '../../src/spec/types';
import { DEFAULT_DATA_DIR } from './datasets';

/** Datasets the bench knows. */
export const DATASETS = ['criteo', 'avazu', 'synthetic', 'sequence'] as const;
/** One of `DATASETS`. */
export type DatasetName = (typeof DATASETS)[number];

/** What one bench:quality run does. */
export interface QualityOptions {
  json: boolean;
  keep: boolean;
  seeds: number[];
  /** Overrides every spec's `training.epochs`; undefined: each example's own. */
  epochs?: number;
  /** The PyTorch peer's epochs. */
  peerEpochs: number;
  datasets: DatasetName[];
  models: ModelKind[];
  trainRows: number;
  validRows: number;
  syntheticTrain: number;
  syntheticValid: number;
  /** Rows of the planted-history (`sequence`) split. */
  sequenceTrain: number;
  sequenceValid: number;
  /** Workers of the asynchronous side of the asynchrony comparison; 0 skips it. */
  workers: number;
  f16: boolean;
  peer: boolean;
  dataDir: string;
}

/** The usage line printed on a bad flag. */
export const QUALITY_USAGE = 'npm run bench:quality -- [--json] [--seeds 1,2,3] [--epochs E] [--peer-epochs 2] '
  + '[--datasets criteo,avazu,synthetic,sequence] [--models lr,fm,deepfm,widedeep,dcn,din] [--train-rows 6000] [--valid-rows 2000] '
  + '[--synthetic-train 6000] [--synthetic-valid 2000] [--sequence-train 20000] [--sequence-valid 4000] [--workers 4 (0: no asynchrony runs)] [--no-f16] [--no-peer] '
  + '[--data-dir DIR] [--keep]';

function value(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = argv[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`--${name} needs a value\nusage: ${QUALITY_USAGE}`);
  return v;
}

function int(argv: string[], name: string, fallback: number, min: number): number {
  const raw = value(argv, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got "${raw}"\nusage: ${QUALITY_USAGE}`);
  return n;
}

function names<T extends string>(argv: string[], name: string, known: readonly T[], fallback: readonly T[]): T[] {
  const raw = value(argv, name);
  if (raw === undefined) return [...fallback];
  const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = list.find((s) => !(known as readonly string[]).includes(s));
  if (bad !== undefined || list.length === 0) throw new Error(`--${name}: unknown "${bad ?? raw}" (expected some of ${known.join(', ')})\nusage: ${QUALITY_USAGE}`);
  return list as T[];
}

/** Parses bench:quality's flags; throws one line naming the bad flag and the usage. */
export function parseQualityOptions(argv: string[]): QualityOptions {
  const known = new Set(['json', 'keep', 'no-f16', 'no-peer', 'seeds', 'epochs', 'peer-epochs', 'datasets', 'models', 'train-rows',
    'valid-rows', 'synthetic-train', 'synthetic-valid', 'sequence-train', 'sequence-valid', 'workers', 'data-dir']);
  const flag = argv.find((a) => a.startsWith('--') && !known.has(a.slice(2)));
  if (flag !== undefined) throw new Error(`unknown flag ${flag}\nusage: ${QUALITY_USAGE}`);
  const seedsRaw = value(argv, 'seeds') ?? '1,2,3';
  const seeds = seedsRaw.split(',').map(Number);
  if (seeds.length === 0 || seeds.some((s) => !Number.isInteger(s) || s < 0 || s > 0xffffffff)) {
    throw new Error(`--seeds needs comma-separated uint32 seeds, got "${seedsRaw}"\nusage: ${QUALITY_USAGE}`);
  }
  const epochs = value(argv, 'epochs') === undefined ? undefined : int(argv, 'epochs', 1, 1);
  return {
    json: argv.includes('--json'),
    keep: argv.includes('--keep'),
    seeds,
    epochs,
    peerEpochs: int(argv, 'peer-epochs', 2, 1),
    datasets: names(argv, 'datasets', DATASETS, DATASETS),
    models: names(argv, 'models', MODEL_KINDS, MODEL_KINDS),
    trainRows: int(argv, 'train-rows', 6000, 1),
    validRows: int(argv, 'valid-rows', 2000, 1),
    syntheticTrain: int(argv, 'synthetic-train', 6000, 1),
    syntheticValid: int(argv, 'synthetic-valid', 2000, 1),
    sequenceTrain: int(argv, 'sequence-train', 20_000, 1),
    sequenceValid: int(argv, 'sequence-valid', 4_000, 1),
    workers: int(argv, 'workers', 4, 0),
    f16: !argv.includes('--no-f16'),
    peer: !argv.includes('--no-peer'),
    dataDir: path.resolve(value(argv, 'data-dir') ?? DEFAULT_DATA_DIR),
  };
}
