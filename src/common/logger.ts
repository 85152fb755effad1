/**
 * Logging: one pino root per process, created in main.ts; components get child loggers
 * (`logger.child({ component: 'ps-node' })`). Nothing is logged per id on the hot path.
 */
import pino from 'pino';

export type Logger = pino.Logger;

export interface LoggerOptions {
  level?: string;
  /** Bindings on every line, e.g. { role: 'ps', nodeId: 'ps-0' }. */
  base?: Record<string, unknown>;
  /** Destination file descriptor or path; defaults to stderr so stdout stays for --json output. */
  destination?: number | string;
}

/** Creates the process's root logger. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const dest = pino.destination({ dest: opts.destination ?? 2, sync: true });
  return pino({ level: opts.level ?? 'info', base: { pid: process.pid, ...opts.base } }, dest);
}

/** A logger that drops everything (tests and benchmarks that assert nothing about logs). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * A child of `logger` binding `bindings`, less those the logger already binds to the same value:
 * pino would write such a key twice (`"job"` from the role and again from a component), and
 * strict JSON readers reject duplicate keys.
 */
export function childLogger(logger: Logger, bindings: Record<string, unknown>): Logger {
  const bound = logger.bindings();
  return logger.child(Object.fromEntries(Object.entries(bindings).filter(([k, v]) => bound[k] !== v)));
}
