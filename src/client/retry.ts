/**
 * Retries a call on retryable errors (UNAVAILABLE, DEADLINE) with backoff until an overall
 * deadline, logging what it is waiting for. Non-retryable errors are thrown at once.
 */
import { backoffDelay, BackoffOptions, delay } from '../common/backoff';
import { isRetryable } from '../common/errors';
import type { Logger } from '../common/logger';

/** How withRetry waits: the backoff between attempts, the overall deadline, where it logs. */
export interface RetryOptions {
  backoff: BackoffOptions;
  /** Give up after this long, in ms, counted from the first attempt. */
  retryDeadlineMs: number;
  logger: Logger;
}

/** Runs `fn` until it succeeds, fails with a non-retryable error, or the deadline passes. */
export async function withRetry<T>(what: string, opts: RetryOptions, fn: () => Promise<T>): Promise<T> {
  const start = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const elapsed = Date.now() - start;
      if (!isRetryable(err) || elapsed >= opts.retryDeadlineMs) throw err;
      const wait = Math.min(backoffDelay(opts.backoff, attempt), opts.retryDeadlineMs - elapsed);
      // First retry at debug (a blip); persistent trouble at warn, once per few attempts.
      const level = attempt >= 2 && attempt % 4 === 2 ? 'warn' : 'debug';
      opts.logger[level]({ what, attempt, waitMs: Math.round(wait), err: (err as Error).message }, `waiting for ${what}`);
      await delay(wait);
    }
  }
}
