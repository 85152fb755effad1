/**
 * Bounded staleness for asynchronous pushes: at most `maxInflight` pushes are outstanding.
 * `maxInflight = 0` makes every push synchronous. A failed background push is reported by the
 * next `admit()` or `drain()`, never lost.
 */
import type { Logger } from '../common/logger';

/** The bound on pushes in flight, shared by every push of one data client. */
export class PushWindow {
  private readonly inflight = new Set<Promise<void>>();
  private failure: Error | null = null;
  private throttled = 0;

  constructor(private readonly maxInflight: number, private readonly logger: Logger) {}

  get size(): number {
    return this.inflight.size;
  }

  /** Times a caller had to wait because the window was full. */
  get throttleCount(): number {
    return this.throttled;
  }

  /**
   * Starts `work` and returns once the window has room again (or once `work` finished, when
   * synchronous). Throws the error of any earlier failed push.
   */
  async admit(work: () => Promise<void>): Promise<void> {
    this.raise();
    const p = work();
    if (this.maxInflight === 0) {
      await p;
      return;
    }
    const tracked = p.then(
      () => { this.inflight.delete(tracked); },
      (err: Error) => { this.inflight.delete(tracked); this.failure ??= err; },
    );
    this.inflight.add(tracked);
    if (this.inflight.size > this.maxInflight) {
      this.throttled++;
      if (this.throttled === 1 || this.throttled % 1000 === 0) {
        // warn: it means the PS, not the worker, sets the pace right now; visible at the CLI's default level.
        this.logger.warn({ maxInflight: this.maxInflight, throttled: this.throttled },
          'push window full: waiting for the oldest push before continuing (max_inflight_pushes)');
      }
      while (this.inflight.size > this.maxInflight) await Promise.race(this.inflight);
    }
    this.raise();
  }

  /** Waits for every outstanding push; throws the first failure. */
  async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.all(this.inflight);
    this.raise();
  }

  private raise(): void {
    if (this.failure) {
      const f = this.failure;
      this.failure = null;
      throw f;
    }
  }
}
