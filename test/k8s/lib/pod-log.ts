/**
 * Waits for a line in a pod process's log file (src/local/child.ts appends a pod's output there):
 * woken by file-system events on the file, so a test awaits the event it expects instead of
 * sleeping. Fails at once if the process exits first.
 */
import * as fs from 'fs';
import type { Child } from '../../../src/local/child';

/** Resolves with the first line of `child`'s log matching `re`. */
export function waitForLogLine(child: Child, re: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err: Error | null, line?: string): void => {
      if (done) return;
      done = true;
      watcher.close();
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(line!);
    };
    const check = (): void => {
      const line = fs.readFileSync(child.logFile, 'utf8').split('\n').find((l) => re.test(l));
      if (line !== undefined) finish(null, line);
    };
    const watcher = fs.watch(child.logFile, check);
    // The caller's bound on how long the event may take; it fails the wait, not the process.
    const timer = setTimeout(() => finish(new Error(`${child.name}: no log line ${re} within ${timeoutMs} ms`)), timeoutMs);
    void child.exited.then((code) => {
      check();
      finish(new Error(`${child.name} exited (${code}) before logging ${re}`));
    });
    check();
  });
}
