/**
 * How far V8 lets a data-plane process's JavaScript heap grow before its next full collection
 * (ADR 0045). A PS and a worker's data client keep almost nothing on the JavaScript heap (rows,
 * ids and messages live in ArrayBuffers), so the live heap is 10–20 MB; V8 sizes the next
 * limit from it, and when collections are cheap it picks a factor near 1.1. The promises and
 * request objects of a few pulls in flight, promoted by a scavenge, then reach that limit every
 * fraction of a second: on `bench:ps` a full mark-compact every ~0.2 s in the client and a PS,
 * each 10–70 ms of marking under load. A fixed factor of 4 (V8's own ceiling) cut them 3–4× and
 * CPU per row by 12–18%. V8 still caps the heap at `--max-old-space-size`; ArrayBuffers (the
 * table's rows, ids, messages) are not part of that heap and keep V8's separate trigger for
 * external memory, so the factor does not let a large table's garbage wait longer.
 *
 * ```ts
 * tuneHeapGrowth(process.env);   // at the start of `tessera ps` and `tessera worker`
 * ```
 */
import * as v8 from 'node:v8';
import { ERROR_CODES, TesseraError } from './errors';

/** The environment variable: the percent the old generation grows by; 0 leaves V8's own heuristic. */
export const HEAP_GROWTH_ENV = 'TESSERA_HEAP_GROWING_PERCENT';

/** Default: a factor of 4, V8's largest dynamic factor, held fixed. */
export const DEFAULT_HEAP_GROWING_PERCENT = 300;

/** The percent `env` asks for; a CONFIG error naming the variable when it is not an integer in [0, 1000]. */
export function heapGrowingPercent(env: NodeJS.ProcessEnv): number {
  const raw = env[HEAP_GROWTH_ENV];
  if (raw === undefined || raw === '') return DEFAULT_HEAP_GROWING_PERCENT;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n > 1000) {
    throw new TesseraError(ERROR_CODES.CONFIG, `${HEAP_GROWTH_ENV} must be an integer from 0 (V8's own heuristic) to 1000, got "${raw}"`);
  }
  return n;
}

/** Applies `heapGrowingPercent(env)` to this process (every thread's heap); returns it. */
export function tuneHeapGrowth(env: NodeJS.ProcessEnv): number {
  const percent = heapGrowingPercent(env);
  if (percent > 0) v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
  return percent;
}
