/**
 * Which errors end a job, and which the chief rides out. Pure.
 *
 * - Transient (etcd or a PS unreachable, a deadline): wait and retry, as before.
 * - The PS moved under the chief (a stale shard map, a table it does not hold, a snapshot in the
 *   way): attach the PS again and retry.
 * - Fatal: retrying gives the same answer (bad input or config, an unreadable checkpoint, a
 *   checkpoint directory that cannot be written, rows lost with nothing to restore them from).
 *   The chief records the job as failed, with the reason, and every chief and worker of the job
 *   exits non-zero with it, so nobody retries it forever.
 */
import { asDiskError, diskErrorCode } from '../common/disk-errors';
import { ERROR_CODES, ErrorCode, TesseraError } from '../common/errors';

/** A failure the chief decided on (its own checks), whatever the cause's code. */
export class JobFailedError extends TesseraError {
  constructor(code: ErrorCode, reason: string) {
    super(code, reason, { retryable: false });
    this.name = 'JobFailedError';
  }
}

/** Codes that fail the job when an operation of the chief meets them. */
const FATAL: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  ERROR_CODES.CONFIG, ERROR_CODES.INVALID_ARGUMENT, ERROR_CODES.INCOMPATIBLE_SPEC, ERROR_CODES.DIM_MISMATCH,
  ERROR_CODES.NON_FINITE, ERROR_CODES.CHECKPOINT_CORRUPT, ERROR_CODES.CHECKPOINT_NOT_FOUND, ERROR_CODES.CHECKPOINT_DIR,
  ERROR_CODES.BAD_DATA, ERROR_CODES.PERMISSION_DENIED, ERROR_CODES.UNAUTHENTICATED,
]);

/** Codes that mean the PS changed under the chief: attach them again, then retry. */
const REATTACH: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  ERROR_CODES.STALE_SHARD_MAP, ERROR_CODES.WRONG_SHARD, ERROR_CODES.UNKNOWN_TABLE, ERROR_CODES.TABLE_INCARNATION,
  ERROR_CODES.SNAPSHOT_CONFLICT,
]);

/**
 * `err` as the TesseraError that fails the job, when it must (not worth retrying, and not about
 * the chief's leadership); undefined otherwise. A disk error not yet named as one (full,
 * not writable, read-only) becomes TESSERA_ERR_CHECKPOINT_DIR.
 */
export function jobFatal(err: unknown, dir: string): TesseraError | undefined {
  if (err instanceof JobFailedError || isFatalCode(err)) return err;
  if (!(err instanceof TesseraError) && diskErrorCode(err) !== undefined) return asDiskError(err, dir) as TesseraError;
  return undefined;
}

/**
 * True when `err` carries a code that retrying cannot change: bad input or config, a corrupt
 * checkpoint, or a caller the PS refuses (its certificate's role may not call the method).
 */
export function isFatalCode(err: unknown): err is TesseraError {
  return err instanceof TesseraError && !err.retryable && FATAL.has(err.code);
}

/** True when the chief should attach the PS again and retry. */
export function needsReattach(err: unknown): boolean {
  return err instanceof TesseraError && !(err instanceof JobFailedError) && REATTACH.has(err.code);
}

/** Errors worth waiting out: etcd or a PS unreachable. Leadership loss and bad config are not. */
export function isTransient(err: unknown): boolean {
  if (err instanceof TesseraError) return err.retryable || err.code === ERROR_CODES.UNAVAILABLE || err.code === ERROR_CODES.DEADLINE;
  // etcd3's GRPC*Error and network errors are plain Errors; programming errors and requests
  // etcd refuses as malformed (gRPC INVALID_ARGUMENT, FAILED_PRECONDITION) are not retried.
  if (!(err instanceof Error) || err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError || err instanceof SyntaxError) return false;
  if (diskErrorCode(err) !== undefined) return false; // a full or unwritable disk stays so
  return !/^(3 INVALID_ARGUMENT|9 FAILED_PRECONDITION)\b/.test(err.message);
}
