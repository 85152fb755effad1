/**
 * `generate`: streams synthetic Criteo DAC rows labelled by a planted teacher model, and measures
 * the teacher's own (oracle) AUC and log loss on the rows it wrote. Same options → byte-identical
 * files.
 */
import { createWriteStream, WriteStream } from 'node:fs';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { auc, logLoss } from '../eval/metrics';
import { MAX_SEED, Xoshiro128 } from './rng';
import { FeatureSpec, NUM_CATEGORICAL, RowSampler, featureSpec, newFeatureRow } from './rows';
import {
  HISTORY_CATEGORIES, HISTORY_ELEMENT_BYTES, HistorySampler, historyLogit, ITEM_FIELD, MAX_HISTORY, writeHistory,
} from './history';
import { DEFAULT_CTR, DEFAULT_LOGIT_STD, sigmoid, Teacher } from './teacher';
import { TokenCodec } from './tokens';
import { CHUNK_BYTES, MAX_LINE_BYTES, encodeCriteoLine, writeChunk } from './tsv-writer';
import { MAX_ZIPF_N } from './zipf';

/** Default vocabulary per categorical field. */
export const DEFAULT_VOCAB = 1_000_000;
/** Default Zipf exponent of categorical ranks. */
export const DEFAULT_ZIPF = 1.1;
/** Most rows per split: the oracle keeps 9 bytes per row in memory (probability + label). */
export const MAX_ROWS = 2 ** 31 - 1;
/** Stream ids (see Xoshiro128): train and eval rows never share draws. */
const STREAM_TRAIN = 1;
const STREAM_EVAL = 2;
const NEWLINE = 0x0a;
/** fs write-stream buffer: a few chunks, so generation overlaps with the disk write. */
const FILE_HIGH_WATER_MARK = 4 * CHUNK_BYTES;

/** Options of `generate`. */
export interface GenerateOptions {
  /** Training rows to write (≥ 1). */
  rows: number;
  /** Seed of everything: features, teacher and labels. A non-negative safe integer. */
  seed: number;
  /** Vocabulary per categorical field (one size, or 26), each in [1, 2^40]. Default 1e6. */
  vocab?: number | readonly number[];
  /** Zipf exponent s > 0 of categorical ranks. Default 1.1. */
  zipf?: number;
  /** A file path (created or truncated, then closed) or a Writable (written to, not ended). */
  out: Writable | string;
  /** Rows of a held-out split from the same teacher (a separate stream); needs `evalOut`. */
  evalRows?: number;
  /** Where the eval split goes. */
  evalOut?: Writable | string;
  /** Target positive rate in (0, 1). Default 0.25. */
  ctr?: number;
  /** Std of the teacher logit: larger = more predictable labels, higher oracle AUC. Default 1.4. */
  logitStd?: number;
  /**
   * Longest user history, in [1, 64]: plants the sequence teacher of history.ts (C1 is the
   * candidate item, C26 its `|`-separated history of C1 tokens). Default: none.
   */
  history?: number;
}

/** What one written split looks like to the teacher. */
export interface SplitStats {
  rows: number;
  positives: number;
  /** ROC AUC of the teacher's probabilities against the labels drawn from them. */
  oracleAuc: number;
  /** Log loss of those probabilities (natural log). */
  oracleLogloss: number;
}

/** Result of `generate`: the training split's stats, the eval split's, and the wall time. */
export interface GenerateResult extends SplitStats {
  seconds: number;
  eval?: SplitStats;
}

function configError(message: string): TesseraError {
  return new TesseraError(ERROR_CODES.CONFIG, message);
}

function checkRange(name: string, v: number | undefined, ok: (x: number) => boolean, want: string): void {
  if (v !== undefined && !(typeof v === 'number' && ok(v))) throw configError(`${name} must be ${want}, got ${v}`);
}

/** Validates options, naming the offending one. */
function validate(o: GenerateOptions): void {
  const rowCount = (x: number): boolean => Number.isInteger(x) && x >= 1 && x <= MAX_ROWS;
  checkRange('rows', o.rows, rowCount, `an integer in [1, ${MAX_ROWS}]`);
  checkRange('seed', o.seed, (x) => Number.isInteger(x) && x >= 0 && x <= MAX_SEED, 'a non-negative safe integer');
  const vocabs = Array.isArray(o.vocab) ? o.vocab : [o.vocab as number | undefined];
  if (Array.isArray(o.vocab) && o.vocab.length !== NUM_CATEGORICAL) throw configError(`vocab needs ${NUM_CATEGORICAL} sizes, got ${o.vocab.length}`);
  for (const v of vocabs) checkRange('vocab', v, (x) => Number.isInteger(x) && x >= 1 && x <= MAX_ZIPF_N, 'an integer in [1, 2^40]');
  checkRange('zipf', o.zipf, (x) => Number.isFinite(x) && x > 0 && x <= 10, 'a number in (0, 10]');
  checkRange('ctr', o.ctr, (x) => x > 0 && x < 1, 'a number in (0, 1)');
  checkRange('logitStd', o.logitStd, (x) => Number.isFinite(x) && x > 0, 'a positive number');
  checkRange('evalRows', o.evalRows, rowCount, `an integer in [1, ${MAX_ROWS}]`);
  if ((o.evalRows === undefined) !== (o.evalOut === undefined)) throw configError('evalRows and evalOut go together: set both or neither');
  checkRange('history', o.history, (x) => Number.isInteger(x) && x >= 1 && x <= MAX_HISTORY, `an integer in [1, ${MAX_HISTORY}]`);
  const itemVocab = Array.isArray(o.vocab) ? o.vocab[ITEM_FIELD] : o.vocab ?? DEFAULT_VOCAB;
  if (o.history !== undefined && itemVocab < HISTORY_CATEGORIES) {
    throw configError(`history needs a vocabulary of at least ${HISTORY_CATEGORIES} items in C1 (its ${HISTORY_CATEGORIES} item categories), got ${itemVocab}`);
  }
}

/** Opens a file output, turning an open failure into a TesseraError that names the path. */
async function openOutput(path: string): Promise<WriteStream> {
  const stream = createWriteStream(path, { highWaterMark: FILE_HIGH_WATER_MARK });
  try {
    await once(stream, 'open');
  } catch (err) {
    throw configError(`cannot write output file "${path}": ${(err as Error).message}`);
  }
  return stream;
}

/** Everything one split needs besides its row count, stream id and output. */
interface SplitContext {
  seed: number;
  spec: FeatureSpec;
  teacher: Teacher;
  codecs: TokenCodec[];
  /** The sequence teacher, with `history`. */
  history?: HistorySampler;
}

/** Generates one split into `stream`; returns the teacher's stats on it. */
async function writeSplit(ctx: SplitContext, rows: number, streamId: number, stream: Writable): Promise<SplitStats> {
  const rng = new Xoshiro128(ctx.seed, streamId);
  const sampler = new RowSampler(ctx.spec, rng);
  const row = newFeatureRow();
  const probs = new Float64Array(rows);
  const labels = new Uint8Array(rows);
  const { history } = ctx;
  const draw = history?.newDraw();
  const lineBytes = MAX_LINE_BYTES + (history ? history.maxLength * HISTORY_ELEMENT_BYTES : 0);
  let positives = 0;
  for (let done = 0; done < rows; ) {
    // A fresh buffer per chunk: the stream may still hold the previous one.
    const buf = Buffer.allocUnsafe(CHUNK_BYTES);
    let pos = 0;
    while (done < rows && pos <= CHUNK_BYTES - lineBytes) {
      sampler.next(row);
      if (history && draw) history.next(row, rng, draw);
      const p = draw ? sigmoid(ctx.teacher.logit(row) + historyLogit(draw)) : ctx.teacher.probability(row);
      const label = rng.nextFloat() < p ? 1 : 0;
      probs[done] = p;
      labels[done] = label;
      positives += label;
      pos = encodeCriteoLine(buf, pos, label, row, ctx.codecs);
      // C26 is the last column and was left empty: its history cell goes where the newline was.
      if (draw) {
        pos = writeHistory(buf, pos - 1, draw, ctx.codecs[ITEM_FIELD]);
        buf[pos++] = NEWLINE;
      }
      done++;
    }
    await writeChunk(stream, buf.subarray(0, pos));
  }
  return { rows, positives, oracleAuc: auc(labels, probs), oracleLogloss: logLoss(labels, probs) };
}

/** Writes one split to a path (opened, then closed) or to a caller's Writable (left open). */
async function writeTo(ctx: SplitContext, rows: number, streamId: number, out: Writable | string): Promise<SplitStats> {
  if (typeof out !== 'string') return writeSplit(ctx, rows, streamId, out);
  const stream = await openOutput(out);
  try {
    const stats = await writeSplit(ctx, rows, streamId, stream);
    stream.end();
    await finished(stream);
    return stats;
  } finally {
    if (!stream.closed) stream.destroy();
  }
}

/**
 * Writes `rows` synthetic Criteo DAC lines (`label \t I1..I13 \t C1..C26`) to `out`, and
 * `evalRows` more to `evalOut` when given, all labelled by one planted teacher; returns the
 * teacher's oracle AUC and log loss on what it wrote. Deterministic in its options.
 *
 * ```ts
 * const r = await generate({ rows: 200_000, seed: 1, out: 'train.tsv', evalRows: 20_000, evalOut: 'eval.tsv' });
 * console.log(r.oracleAuc, r.eval?.oracleAuc); // ≈ 0.8, the ceiling for any student model
 * ```
 * @throws TesseraError CONFIG naming the bad option, or an unwritable output path.
 */
export async function generate(opts: GenerateOptions): Promise<GenerateResult> {
  validate(opts);
  const started = process.hrtime.bigint();
  const spec = featureSpec(opts.seed, opts.vocab ?? DEFAULT_VOCAB, opts.zipf ?? DEFAULT_ZIPF);
  const teacher = new Teacher(opts.seed, spec, { ctr: opts.ctr ?? DEFAULT_CTR, logitStd: opts.logitStd ?? DEFAULT_LOGIT_STD });
  const codecs = spec.vocab.map((v, j) => new TokenCodec(j, v));
  const ctx: SplitContext = {
    seed: opts.seed, spec, teacher, codecs,
    ...(opts.history === undefined ? {} : { history: new HistorySampler(opts.history, spec.vocab[ITEM_FIELD], spec.zipf) }),
  };
  const train = await writeTo(ctx, opts.rows, STREAM_TRAIN, opts.out);
  const evalStats = opts.evalRows !== undefined && opts.evalOut !== undefined ? await writeTo(ctx, opts.evalRows, STREAM_EVAL, opts.evalOut) : undefined;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { ...train, seconds, ...(evalStats ? { eval: evalStats } : {}) };
}
