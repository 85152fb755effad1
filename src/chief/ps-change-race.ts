/**
 * Work the chief does against the PS, abandoned when a PS joins or leaves meanwhile. The epoch's
 * evaluation pulls every row it reads; if a PS dies during it, those pulls retry against the dead
 * address (for up to a minute), while the failover that would replace that PS by its buddy runs
 * only when the chief attaches the PS again, after the evaluation. Racing the work against the
 * membership change breaks that wait: the work's promise is left to settle on its own (its client
 * is closed when the chief attaches a new map), the chief attaches the PS, fails over, and runs the
 * evaluation again.
 *
 * ```ts
 * const changes = new PsChanges();
 * membership.watch(undefined, (ev) => ev.role === 'ps' && changes.notify());
 * const r = await changes.race(model.evaluate(path)); // throws STALE_SHARD_MAP if a PS changed
 * ```
 */
import { ERROR_CODES, TesseraError } from '../common/errors';

/** Waiters for the next change of the PS set. */
export class PsChanges {
  private waiters: Array<() => void> = [];

  /** A PS joined, re-registered or left. */
  notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /**
   * `work`'s result, unless the PS set changes first: then a STALE_SHARD_MAP TesseraError (the
   * chief attaches the PS again and retries), and `work`'s own later failure is ignored.
   */
  async race<T>(work: Promise<T>, what = 'the evaluation'): Promise<T> {
    work.catch(() => undefined);
    let waiter: () => void = () => undefined;
    const changed = new Promise<never>((_, reject) => {
      waiter = () => reject(new TesseraError(ERROR_CODES.STALE_SHARD_MAP, `a parameter server joined or left during ${what}; attaching them again, then ${what} runs again`));
      this.waiters.push(waiter);
    });
    try {
      return await Promise.race([work, changed]);
    } finally {
      this.waiters = this.waiters.filter((w) => w !== waiter);
    }
  }
}
