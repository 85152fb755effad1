/**
 * Runs the real `tessera` binary as a child process to completion (multi-process tests).
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
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

/** The Criteo DAC sample beside the repository (8,000 labelled rows); absent on some machines. */
export const CRITEO_8000 = path.resolve(__dirname, '..', '..', '..', '..', 'shared', 'data', 'criteo_dac', 'train_rows_00001-08000.txt');

/**
 * A new temp folder `prefix…` holding the Criteo sample split into train.txt (its first 7,000
 * rows) and eval.txt (the last 1,000); undefined when the sample is absent (skip the test).
 */
export function criteoSplitDir(prefix: string): string | undefined {
  if (!fs.existsSync(CRITEO_8000)) return undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const lines = fs.readFileSync(CRITEO_8000, 'utf8').split('\n').filter(Boolean);
  fs.writeFileSync(path.join(dir, 'train.txt'), `${lines.slice(0, 7000).join('\n')}\n`);
  fs.writeFileSync(path.join(dir, 'eval.txt'), `${lines.slice(7000).join('\n')}\n`);
  return dir;
}
