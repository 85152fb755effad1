/**
 * Runs the real `tessera` binary as a child process to completion (multi-process tests).
 */
import { spawn } from 'child_process';
import { TESSERA_BIN } from '../../src/local/ps-process';

export interface TesseraRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runTessera(args: string[], opts: { env?: NodeJS.ProcessEnv; onStderr?: (text: string, child: import('child_process').ChildProcess) => void; detached?: boolean } = {}): Promise<TesseraRun> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [TESSERA_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env }, detached: opts.detached });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c) => { stdout += c; });
    p.stderr.on('data', (c) => {
      stderr += c;
      opts.onStderr?.(stderr, p);
    });
    p.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The JSON object on the last stdout line (the --json contract). */
export function lastJson(out: string): Record<string, any> {
  return JSON.parse(out.trim().split('\n').pop()!);
}
