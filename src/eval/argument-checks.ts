/**
 * The argument checks the streaming evaluators share; each failure is one
 * TESSERA_ERR_INVALID_ARGUMENT naming the value that was wrong.
 */
import { ERROR_CODES, TesseraError } from '../common/errors';

/** Throws TesseraError INVALID_ARGUMENT with `message`. */
export function invalidArgument(message: string): never {
  throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, message);
}

/** Returns `v` when it is an integer >= 1; otherwise throws naming the option `name`. */
export function positiveInt(v: number, name: string): number {
  if (!Number.isInteger(v) || v < 1) invalidArgument(`${name} must be an integer >= 1 (got ${v})`);
  return v;
}

/**
 * Throws naming the bad value unless `p` is in [0, 1], `label` is 0 or 1 and `weight` is finite
 * and >= 0. Callers that feed several accumulators check once, up front.
 */
export function checkScoredRow(p: number, label: number, weight = 1): void {
  if (!(p >= 0 && p <= 1)) invalidArgument(`prediction must be a number in [0, 1] (got ${p})`);
  if (label !== 0 && label !== 1) invalidArgument(`label must be 0 or 1 (got ${label})`);
  if (!(weight >= 0 && Number.isFinite(weight))) invalidArgument(`weight must be a finite number >= 0 (got ${weight})`);
}
