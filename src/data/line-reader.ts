/**
 * Streams the lines of one byte range of a file (see splits.ts for the ownership rule), or of a
 * whole gzip file. Lines are split by hand on Buffers: one `indexOf(0x0a)` per line and one
 * `toString` per line; a line that spans chunks is concatenated once, and an over-long line is
 * dropped as it streams (never buffered past `maxLineBytes`).
 */
import { createReadStream, promises as fsp } from 'node:fs';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { ByteRange, checkByteRange } from './splits';

/** Default longest accepted line, in bytes (terminator excluded). Criteo lines are ~250 B. */
export const DEFAULT_MAX_LINE_BYTES = 1 << 20;
/** Read size per chunk: large enough that per-chunk overhead vanishes next to parsing. */
export const READ_CHUNK_BYTES = 1 << 20;

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = Buffer.alloc(0);

/** One line of input. */
export interface LineInfo {
  /** The line without its '\n' or '\r\n' terminator ('' when `tooLong`). */
  line: string;
  /** 1-based line number; known only when reading from offset 0 (whole file, first range, gzip). */
  lineNo?: number;
  /** Byte offset of the line start (decompressed bytes for gzip); a resumable position. */
  offset: number;
  /** Byte offset just past the line's terminator: where reading resumes after this line. */
  next: number;
  /** True when the line exceeded `maxLineBytes`; its content was skipped, not read. */
  tooLong?: boolean;
}

/** Options for readLines / readLineBatches. */
export interface ReadLinesOptions {
  /** Longest line kept, in bytes excluding the terminator; longer ones come back `tooLong`. Default 1 MiB. */
  maxLineBytes?: number;
  /** Read chunk size in bytes (default 1 MiB); tests lower it to cross chunk boundaries cheaply. */
  chunkBytes?: number;
}

/** True when the file starts with the gzip magic bytes 1f 8b (its name is not consulted). */
export async function isGzip(path: string): Promise<boolean> {
  const fh = await fsp.open(path, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await fh.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/** Incremental '\n' splitter over the chunks of one stream; implements the range ownership rule. */
class LineSplitter {
  /** True once a line starting at or after `end` was reached: the caller stops reading. */
  done = false;
  private parts: Buffer[] = [];
  private pendingLen = 0;
  private tooLong = false;
  private lineStart: number;
  private lineNo: number | undefined;

  /**
   * @param base absolute offset of the first byte of the first chunk
   * @param skipping drop bytes through the first '\n' (range start > 0; `base` is then start - 1)
   */
  constructor(private base: number, private skipping: boolean, private readonly end: number,
              private readonly maxLineBytes: number, countLines: boolean) {
    this.lineStart = base;
    this.lineNo = countLines ? 1 : undefined;
  }

  push(chunk: Buffer, out: LineInfo[]): void {
    let i = 0;
    if (this.skipping) {
      const nl = chunk.indexOf(LF);
      if (nl < 0) {
        this.base += chunk.length;
        return;
      }
      this.skipping = false;
      i = nl + 1;
      this.lineStart = this.base + i;
    }
    for (;;) {
      if (this.lineStart >= this.end) {
        this.done = true;
        break;
      }
      const nl = chunk.indexOf(LF, i);
      if (nl < 0) {
        this.hold(chunk, i);
        break;
      }
      this.complete(chunk, i, nl, out, this.base + nl + 1);
      i = nl + 1;
      this.lineStart = this.base + i;
    }
    this.base += chunk.length;
  }

  /** Emits the unterminated last line, if any, at end of input. */
  finish(out: LineInfo[]): void {
    if (!this.done && !this.skipping && (this.pendingLen > 0 || this.tooLong) && this.lineStart < this.end) {
      this.complete(EMPTY, 0, 0, out, this.lineStart + this.pendingLen);
    }
  }

  private hold(chunk: Buffer, i: number): void {
    if (i === chunk.length) return;
    this.pendingLen += chunk.length - i;
    if (this.tooLong) return;
    this.parts.push(i === 0 ? chunk : chunk.subarray(i));
    // +1: a trailing '\r' may still turn out to be part of the terminator.
    if (this.pendingLen > this.maxLineBytes + 1) {
      this.tooLong = true;
      this.parts = [];
    }
  }

  /** Emits the line made of the held parts plus chunk[i, stop); the next line starts at `next`. */
  private complete(chunk: Buffer, i: number, stop: number, out: LineInfo[], next: number): void {
    const lineNo = this.lineNo;
    if (lineNo !== undefined) this.lineNo = lineNo + 1;
    let info: LineInfo = { line: '', lineNo, offset: this.lineStart, next, tooLong: true };
    if (!this.tooLong) {
      let buf = chunk;
      let s = i;
      let e = stop;
      if (this.pendingLen > 0) {
        if (stop > i) this.parts.push(chunk.subarray(i, stop));
        buf = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts);
        s = 0;
        e = buf.length;
      }
      if (e > s && buf[e - 1] === CR) e--;
      if (e - s <= this.maxLineBytes) info = { line: buf.toString('utf8', s, e), lineNo, offset: this.lineStart, next, tooLong: false };
    }
    out.push(info);
    this.parts = [];
    this.pendingLen = 0;
    this.tooLong = false;
  }
}

function positiveInt(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `${what} must be a positive integer, got ${value}`);
  }
  return value;
}

interface Opened {
  source: AsyncIterable<Buffer>;
  splitter: LineSplitter;
}

async function open(path: string, range: ByteRange | undefined, maxLineBytes: number, chunkBytes: number): Promise<Opened | null> {
  if (await isGzip(path)) {
    const { size } = await fsp.stat(path);
    if (range !== undefined && (range.start !== 0 || range.end < size)) {
      throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT,
        `cannot read byte range [${range.start}, ${range.end}) of gzip file ${path} (${size} bytes): ` +
        'gzip has no random access, so it can only be read whole; pass no range (or [0, size)), or decompress it first');
    }
    // pipeline() forwards a read error from the file into the gunzip stream we iterate, and
    // destroys the file stream when iteration stops early.
    const gunzip = pipeline(createReadStream(path, { highWaterMark: chunkBytes }), createGunzip({ chunkSize: chunkBytes }), () => {});
    return { source: gunzip, splitter: new LineSplitter(0, false, Infinity, maxLineBytes, true) };
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? Infinity;
  if (start >= end) return null;
  // From start - 1, so that a '\n' at start - 1 makes the line at `start` ours (splits.ts).
  const readStart = start > 0 ? start - 1 : 0;
  const source = createReadStream(path, { start: readStart, highWaterMark: chunkBytes });
  return { source, splitter: new LineSplitter(readStart, start > 0, end, maxLineBytes, start === 0) };
}

/**
 * Like readLines, but yields the lines of each read chunk as one array (fewer async hops per
 * line; what RowReader uses). Each array is fresh and owned by the caller.
 */
export async function* readLineBatches(path: string, range?: ByteRange, opts: ReadLinesOptions = {}): AsyncGenerator<LineInfo[]> {
  const maxLineBytes = positiveInt(opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES, 'maxLineBytes');
  const chunkBytes = positiveInt(opts.chunkBytes ?? READ_CHUNK_BYTES, 'chunkBytes');
  if (range !== undefined) checkByteRange(range);
  const opened = await open(path, range, maxLineBytes, chunkBytes);
  if (opened === null) return;
  const { source, splitter } = opened;
  try {
    for await (const chunk of source) {
      const out: LineInfo[] = [];
      splitter.push(chunk, out);
      if (out.length > 0) yield out;
      if (splitter.done) return; // leaving for-await destroys the stream
    }
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('Z_')) {
      throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `${path}: corrupt gzip data (${(err as Error).message})`, { cause: err });
    }
    throw err;
  }
  const out: LineInfo[] = [];
  splitter.finish(out);
  if (out.length > 0) yield out;
}

/**
 * The lines of `path` owned by `range` (default: the whole file), in order, '\n' or '\r\n'
 * terminated; a final line without terminator is included. Gzip files (by magic bytes) are
 * decompressed and can only be read whole; `offset` then counts decompressed bytes.
 *
 * ```ts
 * for await (const { line, offset } of readLines('train.txt', { start: 0, end: 1 << 30 })) { ... }
 * ```
 * @throws TesseraError INVALID_ARGUMENT for a partial range of a gzip file or corrupt gzip data.
 */
export async function* readLines(path: string, range?: ByteRange, opts?: ReadLinesOptions): AsyncGenerator<LineInfo> {
  for await (const batch of readLineBatches(path, range, opts)) yield* batch;
}
