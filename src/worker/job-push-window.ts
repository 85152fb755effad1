/**
 * Bounded staleness across the job, not only per worker. `training.max_inflight_pushes` is what
 * one worker training alone may keep unacknowledged; every worker training at the same time
 * adds its own pushes in flight (and its prefetched pull) to the updates a row can miss between
 * its pull and its push. With the Criteo example (Adagrad 0.1 on the tables) 4 workers with 2
 * pushes in flight each diverged in their first epoch (validation LogLoss 9.6, AUC 0.48), where
 * 4 workers with synchronous pushes matched 1 worker (docs/adr/0025, amendment 2). So the
 * job-wide budget is what one worker alone has, `max_inflight_pushes + 1` steps in flight, and W
 * workers training at once share it: each keeps at most `floor((k + 1) / W) - 1` pushes in
 * flight (0: synchronous), re-read as the number of training workers changes.
 *
 * ```ts
 * jobPushWindow(2, 1);   // 2: alone, the spec's bound
 * jobPushWindow(2, 4);   // 0: four workers push synchronously
 * const params = boundedPushes(psParams(client), () => jobPushWindow(2, workersTraining));
 * ```
 */
import type { Assignment } from '../control/job-types';
import type { WorkerParams } from './param-access';

/**
 * Pushes one worker may keep in flight while `workers` workers train at once, when a worker
 * alone may keep `maxInflight`: the job-wide `maxInflight + 1` steps in flight, shared.
 */
export function jobPushWindow(maxInflight: number, workers: number): number {
  return Math.max(0, Math.floor((maxInflight + 1) / Math.max(1, workers)) - 1);
}

/** Workers holding an assignment in `epoch` (at least 1: the one asking). */
export function workersTraining(assignments: Iterable<Assignment>, epoch: number): number {
  const workers = new Set<string>();
  for (const a of assignments) if (a.epoch === epoch) workers.add(a.worker);
  return Math.max(1, workers.size);
}

/**
 * Wraps `inner` so that, when a push call returns, at most `window()` pushes are still in flight:
 * after more than `window()` unflushed pushes it waits for all of them (`inner.flush()`). A window
 * at or above `inner`'s own bound changes nothing; 0 makes every push synchronous.
 */
export function boundedPushes(inner: WorkerParams, window: () => number): WorkerParams {
  let unflushed = 0;
  const bounded = async (push: Promise<void>): Promise<void> => {
    await push;
    if (++unflushed > window()) {
      await inner.flush();
      unflushed = 0;
    }
  };
  return {
    createTable: (spec) => inner.createTable(spec),
    pull: (table, ids, dim, opts) => inner.pull(table, ids, dim, opts),
    pullDense: (table, out) => inner.pullDense(table, out),
    assignDense: (table, values, onlyIfFresh) => inner.assignDense(table, values, onlyIfFresh),
    flush: async () => { await inner.flush(); unflushed = 0; },
    sampleStaleness: () => inner.sampleStaleness?.() ?? false,
    close: () => inner.close(),
    get inflightPushes() { return inner.inflightPushes; },
    get pushThrottles() { return inner.pushThrottles; },
    push: (table, ids, grads) => bounded(inner.push(table, ids, grads)),
    pushDense: (table, grads) => bounded(inner.pushDense(table, grads)),
    pushStep: (sparse, dense) => bounded(inner.pushStep(sparse, dense)),
  };
}
