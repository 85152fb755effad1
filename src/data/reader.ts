/**
 * RowReader: the lines of one file range, parsed into RawRows for a schema, with bad-line
 * accounting and an error-rate guard so a wrong file (or wrong format flag) fails loudly
 * instead of silently training on a trickle of rows.
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import { LineInfo, ReadLinesOptions, readLineBatches, DEFAULT_MAX_LINE_BYTES } from './line-reader';
import { LineError, LineParser, parserFor } from './parsers';
import { AVAZU_HEADER, RawRow, RowSchema, newRawRow } from './record';
import { ByteRange } from './splits';
import { formatHint } from './data-errors';
import type { PositionedRows, ReaderStats, RowSource } from './row-source';

/** Default tolerated fraction of malformed lines. */
export const DEFAULT_MAX_ERROR_RATE = 0.01;
/** Lines read before the error rate is enforced mid-stream (it is always enforced at the end). */
export const ERROR_RATE_MIN_LINES = 1000;
/** Malformed-line examples kept for reports. */
export const MAX_ERROR_SAMPLES = 5;

/** Options for RowReader. */
export interface RowReaderOptions extends ReadLinesOptions {
  /** Byte range to read (default: whole file). See splits.ts for the ownership rule. */
  range?: ByteRange;
  /** Largest tolerated bad / (rows + bad), in [0, 1]. Default 0.01. */
  maxErrorRate?: number;
  /** Name used in samples and errors (default: the path). */
  name?: string;
  /**
   * Ignore every line starting before this byte offset (not counted anywhere). How a resumed
   * gzip shard, which cannot seek, skips what an earlier reader already consumed.
   */
  skipBefore?: number;
}

/**
 * A batch of rows and the byte offset (decompressed for gzip) just past the last line it
 * consumed: a reader of [next, end) reads exactly the rows after this batch.
 */
export type PositionedBatch = PositionedRows<number>;

export type { ReaderStats };

function formatBytes(n: number): string {
  if (n % (1 << 20) === 0) return `${n / (1 << 20)} MiB`;
  if (n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

function percent(x: number): string {
  return `${(100 * x).toFixed(x > 0 && x < 0.001 ? 3 : 2)}%`;
}

/**
 * Reads one file (or byte range of it) as parsed rows. Each iteration (`for await`, or
 * `batches()`) re-reads the input from the range start and resets the stats.
 *
 * ```ts
 * const reader = new RowReader('train.txt', CRITEO_SCHEMA, { range: ranges[rank] });
 * for await (const batch of reader.batches(4096)) trainer.step(batch);
 * log.info(reader.summary());
 * ```
 * @throws TesseraError BAD_DATA (while iterating) once more than `maxErrorRate` of the
 * lines are malformed, after at least 1000 lines or at the end of input.
 */
export class RowReader implements AsyncIterable<RawRow>, RowSource<number> {
  private readonly parse: LineParser;
  private readonly maxErrorRate: number;
  private readonly name: string;
  private counts: ReaderStats = { rows: 0, bad: 0, blank: 0, samples: [] };
  /** The first malformed line (its first 512 characters), to say which format it looks like. */
  private firstBad: string | undefined;

  constructor(readonly path: string, readonly schema: RowSchema, private readonly opts: RowReaderOptions = {}) {
    this.parse = parserFor(schema.format);
    this.maxErrorRate = opts.maxErrorRate ?? DEFAULT_MAX_ERROR_RATE;
    if (!(this.maxErrorRate >= 0 && this.maxErrorRate <= 1)) {
      throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `maxErrorRate must be in [0, 1], got ${opts.maxErrorRate}`);
    }
    this.name = opts.name ?? path;
  }

  /** Rows one at a time; each row is a fresh object owned by the caller. */
  async *[Symbol.asyncIterator](): AsyncGenerator<RawRow> {
    for await (const batch of this.batches(1024)) yield* batch;
  }

  /**
   * Rows in arrays of `batchSize` (the last one may be shorter).
   *
   * Ownership: by default every array and row is fresh and belongs to the caller. With
   * `{ reuse: true }` the same array and row objects are refilled for the next batch, so a
   * batch is valid only until the iterator is advanced; copy anything kept longer.
   */
  async *batches(batchSize: number, opts: { reuse?: boolean } = {}): AsyncGenerator<RawRow[]> {
    for await (const b of this.positionedBatches(batchSize, opts)) if (b.rows.length > 0) yield b.rows;
  }

  /**
   * Like {@link batches}, with each batch's resume position (see {@link PositionedBatch}). The
   * last batch may be empty when only blank or bad lines followed the previous one.
   */
  async *positionedBatches(batchSize: number, opts: { reuse?: boolean } = {}): AsyncGenerator<PositionedBatch> {
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
      throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `batchSize must be a positive integer, got ${batchSize}`);
    }
    const reuse = opts.reuse === true;
    const skipBefore = this.opts.skipBefore ?? 0;
    const pool: RawRow[] = [];
    let batch: RawRow[] = [];
    let next = this.opts.range?.start ?? 0;
    this.counts = { rows: 0, bad: 0, blank: 0, samples: [] };
    this.firstBad = undefined;
    const lineOpts = { maxLineBytes: this.opts.maxLineBytes, chunkBytes: this.opts.chunkBytes };
    for await (const lines of readLineBatches(this.path, this.opts.range, lineOpts)) {
      for (const info of lines) {
        if (info.offset < skipBefore) continue;
        next = info.next;
        const row = reuse ? (pool[batch.length] ??= newRawRow(this.schema)) : newRawRow(this.schema);
        if (!this.accept(info, row)) continue;
        batch.push(row);
        if (batch.length === batchSize) {
          yield { rows: batch, next };
          if (reuse) batch.length = 0;
          else batch = [];
        }
      }
    }
    this.checkErrorRate(true);
    if (batch.length > 0 || next > (this.opts.range?.start ?? 0)) yield { rows: batch, next };
  }

  /** A copy of the counters of the current (or last) pass. */
  stats(): ReaderStats {
    return { ...this.counts, samples: [...this.counts.samples] };
  }

  /** One-paragraph end-of-run report: counts, bad rate, and the sampled errors. */
  summary(): string {
    const { rows, bad, blank, samples } = this.counts;
    const range = this.opts.range ? ` [${this.opts.range.start}, ${this.opts.range.end})` : '';
    const total = rows + bad;
    let text = `${this.schema.format} ${this.name}${range}: ${rows} rows, ${bad} bad ` +
      `(${percent(total === 0 ? 0 : bad / total)}), ${blank} blank`;
    if (samples.length > 0) text += `\n  first bad lines:\n    ${samples.join('\n    ')}`;
    return text;
  }

  /** Parses `info` into `row`; false (after accounting) when it is not a data row. */
  private accept(info: LineInfo, row: RawRow): boolean {
    if (info.tooLong) {
      const max = this.opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
      this.recordBad(info, `line exceeds ${formatBytes(max)}`);
      return false;
    }
    if (info.line.length === 0) {
      this.counts.blank++;
      return false;
    }
    if (info.offset === 0 && this.schema.format === 'avazu' && this.isAvazuHeader(info.line)) return false;
    try {
      this.parse(info.line, row);
    } catch (err) {
      if (!(err instanceof LineError)) throw err;
      this.recordBad(info, err.reason);
      return false;
    }
    this.counts.rows++;
    this.checkErrorRate(false);
    return true;
  }

  /** True for the Avazu header; a different header is fatal (its columns would be misread). */
  private isAvazuHeader(line: string): boolean {
    const text = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (text === AVAZU_HEADER) return true;
    if (!text.startsWith('id,')) return false; // a header-less piece of a file
    throw new TesseraError(ERROR_CODES.BAD_DATA,
      `${this.name}: unexpected Avazu header '${text.slice(0, 200)}'; expected '${AVAZU_HEADER}'`);
  }

  private recordBad(info: LineInfo, reason: string): void {
    this.counts.bad++;
    this.firstBad ??= info.tooLong ? undefined : info.line.slice(0, 512);
    if (this.counts.samples.length < MAX_ERROR_SAMPLES) {
      const where = info.lineNo !== undefined ? `${this.name}:${info.lineNo}` : `${this.name}@offset ${info.offset}`;
      this.counts.samples.push(`${where}: ${reason}`);
    }
    this.checkErrorRate(false);
  }

  private checkErrorRate(atEnd: boolean): void {
    const { rows, bad, samples } = this.counts;
    const total = rows + bad;
    if (bad === 0 || (!atEnd && total < ERROR_RATE_MIN_LINES) || bad <= this.maxErrorRate * total) return;
    throw new TesseraError(ERROR_CODES.BAD_DATA,
      `${this.name}: ${bad} of ${total} lines are malformed (${percent(bad / total)}), over maxErrorRate ` +
      `${percent(this.maxErrorRate)} for ${this.schema.format} data${formatHint(this.firstBad, this.schema.format)}; first bad lines: ${samples.join('; ')}`);
  }
}
