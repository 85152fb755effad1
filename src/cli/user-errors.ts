/**
 * What the `tessera` binary prints for an error that ends a command: one line naming the problem
 * and what to do (exit 2), for Tessera's own errors and for the ordinary mistakes the OS reports
 * (a port in use, a missing file). Anything else is a bug and keeps its stack trace (exit 1).
 */
import { TesseraError } from '../common/errors';

/** Exit codes of every `tessera` command: done, failed, usage or configuration error. */
export const EXIT = { OK: 0, FAILED: 1, USAGE: 2 } as const;

const FILE_ERRORS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory',
};

/**
 * `text` with control characters escaped (\r, \n, \u0000 …): a message quoting a user's bytes
 * (a table name read from a broken file) stays one line on the terminal (issue #16's fuzzer).
 */
function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1));
}

/** The one line to print for `err`, or undefined when it is not a user's mistake (print the stack). */
export function userErrorLine(err: unknown): string | undefined {
  if (err instanceof TesseraError) return oneLine(`${err.message} [${err.code}]`);
  if (!(err instanceof Error)) return undefined;
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  // Node's listen() error carries the address; grpc-js's bind error only names it in its text.
  const inUse = e.code === 'EADDRINUSE' ? `${e.address}:${e.port}` : /EADDRINUSE: address already in use (\S+?)\]?$/m.exec(e.message)?.[1];
  if (inUse !== undefined) return `address ${inUse} is already in use (EADDRINUSE); choose another port (--port, --metrics-port; 0 picks a free one)`;
  if (e.code !== undefined && e.code in FILE_ERRORS && e.path !== undefined) return `${e.path}: ${FILE_ERRORS[e.code]} (${e.code})`;
  return undefined;
}
