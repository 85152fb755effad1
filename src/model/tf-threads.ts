/**
 * How many threads the wasm backend's kernels get (`--tf-threads` / `TESSERA_TF_THREADS`). Kept
 * apart from `backend.ts` so that launchers can check it without loading tfjs.
 *
 * The default is 1. Threads speed up the model step of a worker that has its cores to itself
 * (bench:model, DeepFM at batch 1024 on 2 cores: 13.5k against 8.3k samples/s), but on a host
 * whose cores the worker shares with PS processes they slowed bench:train by 10-20%: the kernel's
 * pool thread competes with the PS that the next step waits for (ADR 0013).
 */
import * as os from 'node:os';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { MAX_WASM_THREADS } from './wasm-threads';

/** Threads `auto` takes: the host's cores, at most this many. */
export const AUTO_TF_THREADS_CAP = 4;

/**
 * Kernel threads from a `--tf-threads` value or `TESSERA_TF_THREADS`: unset (1), `auto` (the
 * host's cores, at most 4) or an integer 1..8.
 *
 * @throws TesseraError TESSERA_ERR_CONFIG for anything else
 */
export function tfThreads(value: string | undefined, cores = os.availableParallelism()): number {
  const v = (value ?? '').trim();
  if (v === '') return 1;
  if (v === 'auto') return Math.max(1, Math.min(cores, AUTO_TF_THREADS_CAP));
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > MAX_WASM_THREADS) {
    throw new TesseraError(ERROR_CODES.CONFIG, `--tf-threads / TESSERA_TF_THREADS: expected auto or 1..${MAX_WASM_THREADS}, got '${v}'`);
  }
  return Number(v);
}
