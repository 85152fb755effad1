/**
 * When `tessera local` restarts a process that died, the way a kubelet restarts a pod's
 * container: after a capped exponential backoff, reset by a run that lasted. A process that keeps
 * dying right after it starts (a bad flag, a data file that does not exist, an id another process
 * holds) is not restarted forever: after `maxQuickFailures` quick failures in a row the run fails,
 * with that process's last log line as the reason. Pure; the clock is the caller's.
 */

/** How a supervised process is restarted. */
export interface RestartPolicy {
  /** Delay before the first restart after a run that lasted, ms; it doubles per quick failure in a row. */
  initialMs: number;
  /** Longest delay, ms. */
  maxMs: number;
  /** A run shorter than this (ms) is a quick failure. */
  quickMs: number;
  /** Quick failures in a row after which the process is given up (and the run fails). */
  maxQuickFailures: number;
}

/**
 * 1 s, doubling to 30 s, and a run under 10 s counts as quick; 3 quick failures in a row end the
 * run. A kubelet starts at 10 s and caps at 5 min: on one machine a PS is back within a second or
 * two, and a user at a terminal should not wait minutes to learn that a flag is wrong.
 */
export const DEFAULT_RESTART_POLICY: RestartPolicy = { initialMs: 1_000, maxMs: 30_000, quickMs: 10_000, maxQuickFailures: 3 };

/** What to do about one exit. */
export type RestartDecision =
  | { kind: 'restart'; delayMs: number; restart: number }
  | { kind: 'give-up'; quickFailures: number };

/** The restart state of one supervised process. */
export class RestartBackoff {
  private restarts = 0;
  private quickInARow = 0;

  constructor(private readonly policy: RestartPolicy = DEFAULT_RESTART_POLICY) {}

  /** The process exited after running `ranMs`: restart it (after `delayMs`), or give up. */
  onExit(ranMs: number): RestartDecision {
    const p = this.policy;
    this.quickInARow = ranMs < p.quickMs ? this.quickInARow + 1 : 0;
    if (this.quickInARow >= p.maxQuickFailures) return { kind: 'give-up', quickFailures: this.quickInARow };
    const delayMs = Math.min(p.maxMs, p.initialMs * 2 ** Math.max(0, this.quickInARow - 1));
    return { kind: 'restart', delayMs, restart: ++this.restarts };
  }
}

/**
 * The line that says why a process ended: the last line of its log that is not blank or a stack
 * frame. A JSON log
 * line (pino) gives its `msg` and `err`; a plain line (`tessera chief: … [TESSERA_ERR_…]`, what
 * the binary prints before it exits 2) is returned as it is.
 */
export function reasonFromLog(tail: string): string {
  // A stack trace's frames ("    at …") say where, not why: the line above them says why.
  const line = tail.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('at ')).pop();
  if (line === undefined) return '(its log is empty)';
  if (!line.startsWith('{')) return line;
  try {
    const o = JSON.parse(line) as { msg?: unknown; err?: unknown; reason?: unknown };
    const err = typeof o.err === 'string' ? o.err : (o.err as { message?: unknown } | undefined)?.message;
    return [o.msg, o.reason ?? err].filter((x) => typeof x === 'string' && x !== '').join(': ') || line;
  } catch {
    return line;
  }
}
