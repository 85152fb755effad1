/**
 * The raw-TCP limit for PS pull throughput: request/response over one loopback connection to a
 * separate process, with length-prefixed frames and `inflight` requests outstanding. With
 * requestBytes = 8192×8 (ids) and responseBytes = 8192×64 (16 float32 per row),
 * rows/s = roundTripsPerS × 8192.
 */
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';

/** Options for {@link measureTcpRequestResponse}. */
export interface TcpEchoOptions {
  /** Request payload bytes (excluding the 4-byte length prefix). */
  requestBytes: number;
  /** Response payload bytes (excluding the 4-byte length prefix). */
  responseBytes: number;
  /** Measured seconds (after a short warm-up). */
  seconds: number;
  /** Requests kept outstanding on the connection. */
  inflight: number;
}

/** Result of {@link measureTcpRequestResponse}. MB = 1e6 bytes. */
export interface TcpEchoResult {
  roundTripsPerS: number;
  /** Request plus response payload bytes per second, in MB. */
  mbPerS: number;
  /** Response payload bytes per second alone, in MB (comparable to pull MB/s figures). */
  responseMbPerS: number;
}

/** Untimed warm-up so JIT and TCP window growth do not count against the measurement. */
const WARMUP_MS = 500;
/** Bound on the server child printing its port; it starts in ~50 ms. */
const SERVER_START_TIMEOUT_MS = 10_000;

/**
 * Spawns dist/bench/peers/tcp-echo-server.js with `process.execPath` and measures round trips.
 *
 * ```ts
 * const r = await measureTcpRequestResponse({ requestBytes: 8192 * 8, responseBytes: 8192 * 64, seconds: 3, inflight: 1 });
 * console.log(r.roundTripsPerS * 8192, 'rows/s');
 * ```
 */
export async function measureTcpRequestResponse(opts: TcpEchoOptions): Promise<TcpEchoResult> {
  const child = spawn(process.execPath, [path.join(__dirname, 'tcp-echo-server.js'), String(opts.responseBytes)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let sock: net.Socket | undefined;
  try {
    const port = await readPort(child.stdout!);
    sock = await connect(port);
    await runLoop(sock, opts, WARMUP_MS);
    const t0 = process.hrtime.bigint();
    const done = await runLoop(sock, opts, opts.seconds * 1000);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    return {
      roundTripsPerS: done / s,
      mbPerS: (done * (opts.requestBytes + opts.responseBytes)) / s / 1e6,
      responseMbPerS: (done * opts.responseBytes) / s / 1e6,
    };
  } finally {
    sock?.destroy();
    child.kill('SIGTERM');
    await exited;
  }
}

/** Keeps `inflight` requests outstanding until `ms` pass, then drains; resolves the count done. */
function runLoop(sock: net.Socket, opts: TcpEchoOptions, ms: number): Promise<number> {
  const request = Buffer.alloc(4 + opts.requestBytes, 1);
  request.writeUInt32LE(opts.requestBytes, 0);
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    let done = 0;
    let outstanding = 0;
    const onFrame = (len: number): void => {
      if (len !== opts.responseBytes) return fail(new Error(`response of ${len} bytes, expected ${opts.responseBytes}`));
      outstanding--;
      done++;
      if (Date.now() < deadline) send();
      else if (outstanding === 0) finish(done);
    };
    const parser = frameParser(onFrame);
    const send = (): void => {
      outstanding++;
      sock.write(request);
    };
    const fail = (err: Error): void => {
      sock.off('data', parser);
      reject(err);
    };
    const finish = (n: number): void => {
      sock.off('data', parser);
      sock.off('error', fail);
      resolve(n);
    };
    sock.on('data', parser);
    sock.once('error', fail);
    for (let i = 0; i < opts.inflight; i++) send();
  });
}

/** Length-prefixed frame parser over arbitrary chunking; calls `onFrame(payloadLength)`. */
function frameParser(onFrame: (len: number) => void): (chunk: Buffer) => void {
  const header = Buffer.alloc(4);
  let headerHave = 0;
  let len = 0;
  let left = -1; // -1: reading the header
  return (chunk: Buffer) => {
    let off = 0;
    while (off < chunk.length) {
      if (left < 0) {
        const n = Math.min(4 - headerHave, chunk.length - off);
        chunk.copy(header, headerHave, off, off + n);
        headerHave += n;
        off += n;
        if (headerHave < 4) return;
        headerHave = 0;
        len = left = header.readUInt32LE(0);
      }
      const n = Math.min(left, chunk.length - off);
      left -= n;
      off += n;
      if (left === 0) {
        left = -1;
        onFrame(len);
      }
    }
  };
}

function readPort(stdout: NodeJS.ReadableStream): Promise<number> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error('tcp-echo-server did not print LISTENING')), SERVER_START_TIMEOUT_MS);
    stdout.setEncoding('utf8');
    stdout.on('data', (d: string) => {
      buf += d;
      const m = /LISTENING (\d+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    stdout.once('end', () => reject(new Error(`tcp-echo-server exited before listening: ${buf}`)));
  });
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1', () => resolve(sock));
    sock.setNoDelay(true);
    sock.once('error', reject);
  });
}
