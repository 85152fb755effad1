/**
 * Peer-store figure: Redis MGET throughput of `batch` random keys from Debian's `redis-server`,
 * which this module starts itself on a free port. Talks RESP over `net` with a minimal
 * hand-written client (no npm redis package) and parses every reply fully.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/** Options for {@link measureRedisMget}. */
export interface RedisMgetOptions {
  /** Distinct keys loaded before measuring. */
  rows: number;
  /** Keys per MGET (8192 to match a PS pull). */
  batch: number;
  /** Bytes per value (64 = 16 float32). */
  valueBytes: number;
  /** Measured seconds per variant. */
  seconds: number;
  /** Also measure with this many MGETs in flight (e.g. 4); omitted or 1: only one in flight. */
  pipelineDepth?: number;
}

/** Result of {@link measureRedisMget}. */
export type RedisMgetResult = { rowsPerS: number; pipelinedRowsPerS?: number } | { skipped: string };

/** Bound on redis-server printing "Ready to accept connections"; it starts in ~20 ms. */
const START_TIMEOUT_MS = 10_000;
/** SIGTERM grace before SIGKILL; with --save '' redis exits at once. */
const STOP_GRACE_MS = 5_000;
/** Keys per MSET while loading, and MSETs in flight: large pipelined writes load 1M rows in ~1 s. */
const LOAD_KEYS_PER_MSET = 1000;
const LOAD_INFLIGHT = 8;
/** Fixed key width: "k" + 9 digits, so MGET requests can be rewritten in place. */
const KEY_DIGITS = 9;

/**
 * Starts redis-server, loads `rows` keys, measures MGET rows/s, stops redis.
 *
 * ```ts
 * const r = await measureRedisMget({ rows: 1_000_000, batch: 8192, valueBytes: 64, seconds: 3 });
 * if ('skipped' in r) console.log(r.skipped); else console.log(r.rowsPerS);
 * ```
 */
export async function measureRedisMget(opts: RedisMgetOptions): Promise<RedisMgetResult> {
  const binary = which('redis-server');
  if (binary === undefined) return { skipped: 'redis-server not found on PATH; install it with: apt-get install -y redis-server' };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-redis-'));
  const port = await freePort();
  const proc = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  let conn: RespConnection | undefined;
  try {
    await waitReady(proc);
    conn = await RespConnection.connect(port);
    await load(conn, opts);
    const rowsPerS = await measure(conn, opts, 1);
    const depth = opts.pipelineDepth ?? 1;
    if (depth <= 1) return { rowsPerS };
    return { rowsPerS, pipelinedRowsPerS: await measure(conn, opts, depth) };
  } finally {
    conn?.close();
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function load(conn: RespConnection, opts: RedisMgetOptions): Promise<void> {
  const value = Buffer.alloc(opts.valueBytes, 0x61);
  const pending: Promise<unknown>[] = [];
  for (let start = 0; start < opts.rows; start += LOAD_KEYS_PER_MSET) {
    const args: (string | Buffer)[] = ['MSET'];
    for (let i = start; i < Math.min(start + LOAD_KEYS_PER_MSET, opts.rows); i++) args.push(keyOf(i), value);
    pending.push(conn.command(args));
    if (pending.length >= LOAD_INFLIGHT) await pending.shift();
  }
  await Promise.all(pending);
  const size = await conn.command(['DBSIZE']);
  if (size.integer !== opts.rows) throw new Error(`DBSIZE ${size.integer}, expected ${opts.rows}`);
}

/** MGET of `batch` fresh random keys, `depth` in flight, for `opts.seconds`; returns rows/s. */
async function measure(conn: RespConnection, opts: RedisMgetOptions, depth: number): Promise<number> {
  // One preallocated request per in-flight slot; a slot is rewritten only after its reply came
  // back, so redis has read the whole request by then.
  const slots = Array.from({ length: depth }, () => mgetTemplate(opts.batch));
  const deadline = Date.now() + opts.seconds * 1000;
  const t0 = process.hrtime.bigint();
  let done = 0;
  const worker = async (slot: MgetRequest): Promise<void> => {
    while (Date.now() < deadline) {
      randomizeKeys(slot, opts.batch, opts.rows);
      const reply = await conn.send(slot.buf);
      if (reply.elements !== opts.batch || reply.bulkBytes !== opts.batch * opts.valueBytes) {
        throw new Error(`MGET reply: ${reply.elements} elements / ${reply.bulkBytes} bytes, expected ${opts.batch} / ${opts.batch * opts.valueBytes}`);
      }
      done++;
    }
  };
  await Promise.all(slots.map(worker));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return (done * opts.batch) / s;
}

/** An MGET request buffer whose key digits are rewritten in place for each request. */
interface MgetRequest {
  buf: Buffer;
  /** Offset of the first key's first digit. */
  digitsAt: number;
  /** Bytes per key frame: "$10\r\n" + "k" + digits + "\r\n". */
  frameLen: number;
}

function mgetTemplate(batch: number): MgetRequest {
  const head = Buffer.from(`*${batch + 1}\r\n$4\r\nMGET\r\n`);
  const frame = Buffer.from(`$${1 + KEY_DIGITS}\r\n${keyOf(0)}\r\n`);
  const buf = Buffer.alloc(head.length + batch * frame.length);
  head.copy(buf, 0);
  for (let i = 0; i < batch; i++) frame.copy(buf, head.length + i * frame.length);
  return { buf, digitsAt: head.length + frame.length - 2 - KEY_DIGITS, frameLen: frame.length };
}

function randomizeKeys(req: MgetRequest, batch: number, rows: number): void {
  const { buf, digitsAt, frameLen } = req;
  for (let i = 0; i < batch; i++) {
    let n = Math.floor(Math.random() * rows);
    const end = digitsAt + i * frameLen + KEY_DIGITS;
    for (let d = 1; d <= KEY_DIGITS; d++) {
      buf[end - d] = 0x30 + (n % 10);
      n = Math.floor(n / 10);
    }
  }
}

function keyOf(i: number): string {
  return 'k' + String(i).padStart(KEY_DIGITS, '0');
}

function waitReady(proc: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`redis-server not ready after ${START_TIMEOUT_MS} ms:\n${out}`)), START_TIMEOUT_MS);
    const onData = (d: Buffer): void => {
      out += d.toString('utf8');
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (code ${code}) before ready:\n${out}`));
    });
  });
}

function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    try {
      if (dir !== '' && statSync(path.join(dir, name)).isFile()) return path.join(dir, name);
    } catch {
      // not here
    }
  }
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Summary of one RESP reply: values are parsed and counted, not materialized. */
interface RespReply {
  /** Top-level array length (0 for non-arrays). */
  elements: number;
  /** Sum of bulk-string payload bytes anywhere in the reply. */
  bulkBytes: number;
  /** Top-level integer reply. */
  integer?: number;
  /** Top-level error reply text. */
  error?: string;
}

/**
 * Incremental RESP2 parser over arbitrary chunk boundaries. Bulk payloads are skipped by count
 * (never copied); only a header line split across two chunks is joined.
 */
class RespParser {
  private partial: Buffer | null = null;
  private bulkLeft = 0; // payload + CRLF bytes still to skip
  private readonly open: number[] = []; // remaining elements of each open array
  private cur: RespReply = { elements: 0, bulkBytes: 0 };

  constructor(private readonly onReply: (r: RespReply) => void) {}

  push(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.bulkLeft > 0) {
        const n = Math.min(this.bulkLeft, chunk.length - off);
        this.bulkLeft -= n;
        off += n;
        if (this.bulkLeft === 0) this.elementDone();
        continue;
      }
      const nl = chunk.indexOf(10, off);
      if (nl < 0) {
        const rest = Buffer.from(chunk.subarray(off));
        this.partial = this.partial ? Buffer.concat([this.partial, rest]) : rest;
        return;
      }
      if (this.partial) {
        const line = Buffer.concat([this.partial, chunk.subarray(off, nl + 1)]);
        this.partial = null;
        this.header(line, 0, line.length - 1);
      } else {
        this.header(chunk, off, nl);
      }
      off = nl + 1;
    }
  }

  /** Handles one header line `buf[start..nl]` (nl is the index of its '\n'). */
  private header(buf: Buffer, start: number, nl: number): void {
    const text = buf.toString('latin1', start + 1, nl - 1);
    const top = this.open.length === 0;
    switch (buf[start]) {
      case 0x2a: { // '*' array
        const n = Number(text);
        if (top) this.cur.elements = Math.max(n, 0);
        if (n > 0) this.open.push(n);
        else this.elementDone();
        return;
      }
      case 0x24: { // '$' bulk string
        const n = Number(text);
        if (n < 0) return this.elementDone(); // nil
        this.cur.bulkBytes += n;
        this.bulkLeft = n + 2;
        return;
      }
      case 0x3a: // ':' integer
        if (top) this.cur.integer = Number(text);
        return this.elementDone();
      case 0x2d: // '-' error
        if (top) this.cur.error = text;
        return this.elementDone();
      case 0x2b: // '+' simple string
        return this.elementDone();
      default:
        throw new Error(`RESP: unexpected type byte 0x${buf[start].toString(16)}`);
    }
  }

  private elementDone(): void {
    while (this.open.length > 0) {
      const i = this.open.length - 1;
      if (--this.open[i] > 0) return;
      this.open.pop(); // the finished array is one element of its parent
    }
    const reply = this.cur;
    this.cur = { elements: 0, bulkBytes: 0 };
    this.onReply(reply);
  }
}

/** Minimal RESP client: requests are answered in order, so replies resolve a FIFO queue. */
class RespConnection {
  private readonly waiting: { resolve(r: RespReply): void; reject(e: Error): void }[] = [];

  private constructor(private readonly sock: net.Socket) {
    const parser = new RespParser((r) => {
      const w = this.waiting.shift();
      if (!w) return;
      if (r.error !== undefined) w.reject(new Error(`redis: ${r.error}`));
      else w.resolve(r);
    });
    sock.on('data', (chunk: Buffer) => parser.push(chunk));
    const failAll = (err: Error): void => {
      for (const w of this.waiting.splice(0)) w.reject(err);
    };
    sock.on('error', failAll);
    sock.on('close', () => failAll(new Error('redis connection closed')));
  }

  static connect(port: number): Promise<RespConnection> {
    return new Promise((resolve, reject) => {
      const sock = net.connect(port, '127.0.0.1', () => {
        sock.off('error', reject);
        resolve(new RespConnection(sock));
      });
      sock.setNoDelay(true);
      sock.once('error', reject);
    });
  }

  /** Sends a pre-encoded request. */
  send(request: Buffer): Promise<RespReply> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.sock.write(request);
    });
  }

  /** Encodes `args` as a RESP array of bulk strings and sends it. */
  command(args: (string | Buffer)[]): Promise<RespReply> {
    const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
    for (const a of args) {
      const b = typeof a === 'string' ? Buffer.from(a) : a;
      parts.push(Buffer.from(`$${b.length}\r\n`), b, CRLF);
    }
    return this.send(Buffer.concat(parts));
  }

  close(): void {
    this.sock.destroy();
  }
}
const CRLF = Buffer.from('\r\n');
