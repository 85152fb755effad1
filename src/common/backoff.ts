/**
 * Exponential backoff with full jitter, injected wherever something retries, so tests can pass a
 * deterministic `random` and short delays instead of waiting out real ones.
 */

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  multiplier: number;
  /** Random source in [0, 1); injected for deterministic tests. */
  random?: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 50, maxMs: 2_000, multiplier: 2 };

/** Delay before retry number `attempt` (0-based): uniform in [0.5, 1] × min(max, initial × mult^attempt). */
export function backoffDelay(opts: BackoffOptions, attempt: number): number {
  const cap = Math.min(opts.maxMs, opts.initialMs * opts.multiplier ** attempt);
  const r = (opts.random ?? Math.random)();
  return cap * (0.5 + r / 2);
}

/** Resolves after `ms` milliseconds (used only between retries, never to order events). */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
