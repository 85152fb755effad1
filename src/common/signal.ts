/**
 * A level-triggered wake-up: `notify()` from event handlers, `wait(ms)` in a loop that re-reads
 * state after every wake. A notify that arrives while nobody waits is remembered, so no change
 * is missed between a read and the next wait. The timeout is a safety net (a lost watch event
 * costs one tick), not a way to order events.
 */
export class Signal {
  private pending = false;
  private wake: (() => void) | null = null;

  notify(): void {
    this.pending = true;
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** Resolves at the next notify (or at once if one is pending), or after `timeoutMs`. */
  wait(timeoutMs: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, timeoutMs);
      this.wake = () => {
        clearTimeout(timer);
        this.pending = false;
        resolve();
      };
    });
  }
}
