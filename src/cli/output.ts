/**
 * Output conventions of every `tessera` command, so scripts can trust stdout:
 * - results go to stdout, logs and progress to stderr;
 * - with --json (or `-o json`) stdout holds only JSON, and the human-readable result moves to
 *   stderr;
 * - a reader that stops early (`tessera checkpoint ls | head -1`) is no error: EPIPE is quiet.
 */

/** Where a command's human-readable result goes: stdout, or stderr when --json owns stdout. */
export function textOut(json: boolean): NodeJS.WriteStream {
  return json ? process.stderr : process.stdout;
}

/**
 * Makes a closed pipe on stdout or stderr quiet: later writes to it are dropped, and the command
 * runs to its own end (a `tessera local` still stops its processes in order) instead of dying
 * with an EPIPE stack. Other stream errors are still thrown.
 */
export function quietOnClosedPipe(): void {
  for (const s of [process.stdout, process.stderr]) {
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
    });
  }
}
