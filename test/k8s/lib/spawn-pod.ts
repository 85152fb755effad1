/**
 * Starts a substituted pod process (local-substitution.ts) as a real OS process: `node argv…`
 * with exactly the environment the pod would have (nothing inherited from the test runner but
 * PATH), output appended to a log file. Returns src/local/child.ts's Child.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import type { Child } from '../../../src/local/child';
import type { LocalProcess } from './local-substitution';

export function spawnPod(local: LocalProcess, logFile: string): Child {
  const fd = fs.openSync(logFile, 'a');
  const proc = spawn(process.execPath, local.argv, { stdio: ['ignore', fd, fd], env: { PATH: process.env.PATH ?? '', ...local.env } });
  fs.closeSync(fd);
  let running = true;
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => { running = false; resolve(code); }));
  return {
    name: local.pod, proc, logFile, exited,
    get running() { return running; },
    async stop(graceMs = 10_000) {
      if (!running) return exited;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    async kill() {
      if (running) proc.kill('SIGKILL');
      await exited;
    },
  };
}
