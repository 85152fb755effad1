/**
 * The number of live members of one role, kept current by a membership watch (no polling): a
 * worker reads how many workers share the job's push budget at every push (src/worker/job-push-window.ts).
 *
 * ```ts
 * const workers = await watchLiveCount(membership, 'worker');
 * workers.count();   // 4
 * await workers.stop();
 * ```
 */
import type { Role } from '../common/roles';
import type { Membership } from './membership';

/** A live count of one role's members. */
export interface LiveCount {
  /** Members of the role alive now, as the watch last saw them. */
  count(): number;
  /** Stops watching. Idempotent. */
  stop(): Promise<void>;
}

/** Watches `role`'s members of `membership` and counts them; `onChange` sees each new count. */
export async function watchLiveCount(membership: Membership, role: Role, onChange?: (count: number) => void): Promise<LiveCount> {
  const live = new Set<string>();
  const w = await membership.watch(role, (ev) => {
    if (ev.type === 'remove') live.delete(ev.id);
    else live.add(ev.id);
    onChange?.(live.size);
  });
  for (const m of w.snapshot) live.add(m.id);
  return { count: () => live.size, stop: () => w.stop() };
}
