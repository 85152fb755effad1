/**
 * Keeps a client's pushes behind the counting pulls it issued before them (issue 17).
 *
 * A pull that is not read-only changes PS state: it counts an admission sighting, creates rows
 * and touches them for eviction. The trainer issues the next step's pulls before the current
 * step's push (prefetch), and the PS normally applies them in that order, since the pull goes
 * out first and is small. A migration's fence breaks that: it refuses counting pulls of moving
 * buckets on tables with admission or eviction, so such a pull is retried and could land after
 * the push issued behind it, on the target, which then counts, creates and reads in a different
 * order than a run that never resharded. Holding each push until every counting pull issued
 * before it has been answered (or failed) keeps the issue order whatever is retried or
 * re-routed. Outside a fence the pulls are answered long before the push is ready, so nothing
 * waits.
 *
 * ```ts
 * const pulls = new CountingPulls();
 * pulls.track(client.pull(...));      // a counting pull
 * const before = pulls.before();      // when the push is issued
 * await before;                        // when it is sent: every earlier pull has been answered
 * ```
 */

/** The counting pulls of one client still waiting for their answer. */
export class CountingPulls {
  private readonly open = new Set<Promise<void>>();

  /** Adds a counting pull; it is forgotten once it settles (answered or failed). */
  track(pull: Promise<unknown>): void {
    const settled: Promise<void> = pull.then(() => undefined, () => undefined).then(() => { this.open.delete(settled); });
    this.open.add(settled);
  }

  /**
   * Resolves once every counting pull open now has settled (never rejects); null when none is,
   * so a push then waits for nothing. Pulls tracked later are not waited for.
   */
  before(): Promise<void> | null {
    if (this.open.size === 0) return null;
    return Promise.all([...this.open]).then(() => undefined);
  }

  /** Counting pulls not yet answered. */
  get size(): number {
    return this.open.size;
  }
}
