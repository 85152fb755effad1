/**
 * Starts `tessera ps` as a child OS process and waits for its "ps listening <addr>" line.
 * Used by the demo, the benchmarks and multi-process tests.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

/** The tessera binary (bin/tessera.js) of this checkout. */
export const TESSERA_BIN = path.resolve(__dirname, '..', '..', __dirname.includes(`${path.sep}dist${path.sep}`) ? '..' : '', 'bin', 'tessera.js');

/** A `tessera ps` child process and the addresses its shards listen on. */
export interface PsProcess {
  /** Shard 0's address (the only one with `shards: 1`). */
  readonly addr: string;
  /** Every shard's address, shard 0 first. */
  readonly addrs: readonly string[];
  readonly proc: ChildProcess;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
}

/** How long a PS may take to print its listening line (process start + module load). */
const START_TIMEOUT_MS = 20_000;

/**
 * Spawns a PS on free ports. `logFile` receives its stderr (JSON logs); default: discarded.
 * `bin` is the tessera binary to run: this checkout's, or an installed package's. `shards` is its
 * `--shards` (default 1 here, not the machine's cores: callers that start several PS processes
 * on one machine count their PS themselves); `args` may still override it.
 */
export function spawnPs(opts: { args?: string[]; logFile?: string; env?: NodeJS.ProcessEnv; bin?: string; shards?: number } = {}): Promise<PsProcess> {
  const stderr = opts.logFile ? fs.openSync(opts.logFile, 'a') : 'ignore';
  const proc = spawn(process.execPath, [opts.bin ?? TESSERA_BIN, 'ps', '--port', '0', '--shards', String(opts.shards ?? 1), ...(opts.args ?? [])], {
    stdio: ['ignore', 'pipe', stderr],
    env: { ...process.env, ...opts.env },
    detached: true, // own process group: a terminal's Ctrl-C reaches only the parent, which stops it in order
  });
  if (typeof stderr === 'number') fs.closeSync(stderr);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return new Promise<PsProcess>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`ps did not start within ${START_TIMEOUT_MS} ms; output: ${out}`));
    }, START_TIMEOUT_MS);
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (chunk: string) => {
      out += chunk;
      const m = /ps listening (\S+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      const addrs = m[1].split(',');
      resolve({
        addr: addrs[0], addrs, proc,
        stop: () => { proc.kill('SIGTERM'); return exited; },
        kill: async () => { proc.kill('SIGKILL'); await exited; },
      });
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`ps exited (code ${code}, signal ${signal}) before listening; output: ${out}`));
    });
  });
}
