/**
 * One catalog of Tessera errors. Every error carries a stable `code` and a `retryable` flag;
 * conversion to and from gRPC status happens only at the transport edge (src/wire/status-map.ts).
 */

/** Stable error codes. Add new codes at the end; never rename one. */
export const ERROR_CODES = {
  INVALID_ARGUMENT: 'TESSERA_ERR_INVALID_ARGUMENT',
  BAD_IDS: 'TESSERA_ERR_BAD_IDS',
  BAD_GRADIENT: 'TESSERA_ERR_BAD_GRADIENT',
  NON_FINITE: 'TESSERA_ERR_NON_FINITE',
  UNKNOWN_TABLE: 'TESSERA_ERR_UNKNOWN_TABLE',
  TABLE_EXISTS: 'TESSERA_ERR_TABLE_EXISTS',
  DIM_MISMATCH: 'TESSERA_ERR_DIM_MISMATCH',
  TOO_LARGE: 'TESSERA_ERR_TOO_LARGE',
  STALE_SHARD_MAP: 'TESSERA_ERR_STALE_SHARD_MAP',
  WRONG_SHARD: 'TESSERA_ERR_WRONG_SHARD',
  UNAVAILABLE: 'TESSERA_ERR_UNAVAILABLE',
  DEADLINE: 'TESSERA_ERR_DEADLINE',
  INTERNAL: 'TESSERA_ERR_INTERNAL',
  CONFIG: 'TESSERA_ERR_CONFIG',
  NOT_LEADER: 'TESSERA_ERR_NOT_LEADER',
  /** a checkpoint file is missing, truncated, or fails its checksum */
  CHECKPOINT_CORRUPT: 'TESSERA_ERR_CHECKPOINT_CORRUPT',
  /** no checkpoint with that id (or no complete checkpoint at all) under the root */
  CHECKPOINT_NOT_FOUND: 'TESSERA_ERR_CHECKPOINT_NOT_FOUND',
  /** a checkpoint's table does not match the table on the PS (dim, state width, weight format) */
  INCOMPATIBLE_SPEC: 'TESSERA_ERR_INCOMPATIBLE_SPEC',
  /** a snapshot is already being written, or an incremental's base is unknown to this PS */
  SNAPSHOT_CONFLICT: 'TESSERA_ERR_SNAPSHOT_CONFLICT',
  /** the PS's disk tier cannot be used (no tier configured, directory unusable, disk full) */
  TIER_UNAVAILABLE: 'TESSERA_ERR_TIER_UNAVAILABLE',
  RESOURCE_EXHAUSTED: 'TESSERA_ERR_RESOURCE_EXHAUSTED',
  /** no such model, version or label on this server (serving) */
  UNKNOWN_MODEL: 'TESSERA_ERR_UNKNOWN_MODEL',
  /** a table is not the incarnation the caller knows: it was dropped (and maybe created again) */
  TABLE_INCARNATION: 'TESSERA_ERR_TABLE_INCARNATION',
  /** the checkpoint or export directory cannot be written: disk full, no permission, read-only */
  CHECKPOINT_DIR: 'TESSERA_ERR_CHECKPOINT_DIR',
  /** a data file cannot be used: missing or unreadable, or more malformed lines than the spec allows */
  BAD_DATA: 'TESSERA_ERR_BAD_DATA',
  /** a push's sequence number is older than the PS's dedup window: it may or may not have been applied */
  PUSH_OUTSIDE_WINDOW: 'TESSERA_ERR_PUSH_OUTSIDE_WINDOW',
  /** the caller's verified identity may not call this method (its role, or another job) */
  PERMISSION_DENIED: 'TESSERA_ERR_PERMISSION_DENIED',
  /** the caller presented no verifiable identity (no client certificate, or no SPIFFE URI in it) */
  UNAUTHENTICATED: 'TESSERA_ERR_UNAUTHENTICATED',
} as const;

export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

const RETRYABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  ERROR_CODES.UNAVAILABLE,
  ERROR_CODES.DEADLINE,
]);

/**
 * The one error type Tessera throws on purpose.
 *
 * ```ts
 * throw new TesseraError('TESSERA_ERR_UNKNOWN_TABLE', 'table "user" does not exist');
 * ```
 */
export class TesseraError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, opts: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'TesseraError';
    this.code = code;
    this.retryable = opts.retryable ?? RETRYABLE.has(code);
  }
}

/** True when `err` is a TesseraError (or carries `retryable: true`) that a caller may retry. */
export function isRetryable(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { retryable?: unknown }).retryable === true;
}
