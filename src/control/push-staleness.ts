/**
 * Push staleness as workers count it and the job status reports it: per pushed row of a sampled
 * step, the number of other updates that landed on the row between its pull and the push (the
 * client measures it from row versions, src/client/row-versions.ts). A worker tallies the values
 * in fixed buckets; its Prometheus histogram `tessera_worker_push_staleness_updates` and the
 * `staleness` of its progress records are both read from the tally, and the chief sums the
 * records' buckets into the job's p99. Pure, apart from the tally's counters.
 *
 * ```ts
 * const tally = new StalenessTally();
 * tally.observe(Uint32Array.of(0, 3, 3));
 * stalenessQuantile(tally.counts, 0.99);   // 3
 * ```
 */
import { ERROR_CODES, TesseraError } from '../common/errors';

/**
 * Upper bounds (inclusive, in updates) of the buckets; a last bucket takes everything above.
 * One bucket per value up to 4, then about ×1.5 steps: a row's staleness is bounded by the pushes
 * of every worker in flight at once (workers × (max_inflight_pushes + 2) or so), so most jobs
 * stay in the first dozen buckets.
 */
export const STALENESS_BUCKETS: readonly number[] = Object.freeze([0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 256, 512, 1024, 4096]);

/** Observations per bucket, not cumulative: `STALENESS_BUCKETS.length + 1` counts, the overflow bucket last. */
export type StalenessCounts = number[];

/** Bucket of each value up to the last bound (values above it go to the overflow bucket). */
const BUCKET_OF = (() => {
  const last = STALENESS_BUCKETS[STALENESS_BUCKETS.length - 1];
  const table = new Uint8Array(last + 1);
  let b = 0;
  for (let v = 0; v <= last; v++) {
    while (v > STALENESS_BUCKETS[b]) b++;
    table[v] = b;
  }
  return table;
})();

/** Empty counts. */
export function emptyStalenessCounts(): StalenessCounts {
  return new Array<number>(STALENESS_BUCKETS.length + 1).fill(0);
}

/** A worker's staleness observations since it started: bucket counts and the sum of the values. */
export class StalenessTally {
  readonly counts: StalenessCounts = emptyStalenessCounts();
  sum = 0;

  /** Counts each value (updates that landed on one row between its pull and its push). */
  observe(updates: ArrayLike<number>): void {
    const { counts } = this;
    const overflow = counts.length - 1;
    let sum = 0;
    for (let k = 0; k < updates.length; k++) {
      const v = updates[k];
      counts[v < BUCKET_OF.length ? BUCKET_OF[v] : overflow]++;
      sum += v;
    }
    this.sum += sum;
  }
}

/** `a + b - base`, bucket by bucket: a record's counts carried forward by what was observed since `base`. */
export function addStalenessSince(a: StalenessCounts | undefined, now: StalenessCounts, base: StalenessCounts): StalenessCounts {
  return now.map((c, i) => (a?.[i] ?? 0) + c - base[i]);
}

/**
 * The `q` quantile (0 < q <= 1) of the counts, as the upper bound of the bucket it falls in:
 * "a fraction q of the measured rows were at most this stale". Exact up to 4 updates, an upper
 * bound above; in the overflow bucket it is the last bound (a floor). Null with no observation.
 */
export function stalenessQuantile(counts: readonly number[], q: number): number | null {
  let total = 0;
  for (const c of counts) total += c;
  if (total === 0) return null;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let b = 0; b < counts.length; b++) {
    seen += counts[b];
    if (seen >= rank) return STALENESS_BUCKETS[Math.min(b, STALENESS_BUCKETS.length - 1)];
  }
  return STALENESS_BUCKETS[STALENESS_BUCKETS.length - 1];
}

/** Reads counts from a stored record: one non-negative integer per bucket; errors name `what`. */
export function parseStalenessCounts(v: unknown, what: string): StalenessCounts {
  const n = STALENESS_BUCKETS.length + 1;
  if (!Array.isArray(v) || v.length !== n || !v.every((c) => Number.isSafeInteger(c) && c >= 0)) {
    throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `${what}: staleness must be ${n} non-negative integers (counts per bucket), got ${JSON.stringify(v)}`);
  }
  return v as StalenessCounts;
}
