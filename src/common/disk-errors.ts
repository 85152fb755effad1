/**
 * Errors of a directory Tessera writes results to (checkpoints, the saved model) that waiting
 * cannot fix: the disk is full, the process may not write there, or the filesystem is read-only.
 * They become one non-retryable TESSERA_ERR_CHECKPOINT_DIR whose message says which and where
 * ("checkpoint dir full (ENOSPC): …"), instead of an I/O error retried as if the network failed.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { ERROR_CODES, TesseraError } from './errors';

/** errno code → what it means for the directory, as the message words it. */
const DISK_ERRORS: Readonly<Record<string, string>> = {
  ENOSPC: 'full',
  EDQUOT: 'over its disk quota',
  EACCES: 'not writable',
  EPERM: 'not writable',
  EROFS: 'on a read-only filesystem',
};

/**
 * Node's recursive mkdir reports ENOENT, not EROFS or EACCES, when it cannot create a directory
 * on a read-only or unwritable filesystem. Such an error is checked against the directory itself.
 */
const MISLEADING = /\b(ENOENT|ENOTDIR)\b/;

const CODE_IN_MESSAGE = new RegExp(`\\b(${Object.keys(DISK_ERRORS).join('|')})\\b`);

/**
 * The errno code of a disk error: from a Node fs error's `code`, or named in a message (a PS
 * reports its snapshot write failing as text). Undefined for anything else.
 */
export function diskErrorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code in DISK_ERRORS) return code;
  return CODE_IN_MESSAGE.exec(messageOf(err))?.[1];
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : typeof err === 'string' ? err : '';
}

/** The disk error writing into `dir` (or its nearest existing ancestor) would meet, if any. */
function probeWritable(dir: string): string | undefined {
  let at = dir;
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
  try {
    accessSync(at, constants.W_OK);
    return undefined;
  } catch (e) {
    return diskErrorCode(e);
  }
}

/**
 * `err` as TESSERA_ERR_CHECKPOINT_DIR naming `dir` when it is a disk error, else `err` unchanged.
 *
 * ```ts
 * try { await writeFiles(dir); } catch (err) { throw asDiskError(err, dir, 'checkpoint dir'); }
 * // → "checkpoint dir full (ENOSPC): /ckpt: ENOSPC: no space left on device, write"
 * ```
 */
export function asDiskError(err: unknown, dir: string, what = 'checkpoint dir'): unknown {
  if (err instanceof TesseraError && err.code === ERROR_CODES.CHECKPOINT_DIR) return err;
  const code = diskErrorCode(err) ?? (MISLEADING.test(messageOf(err)) ? probeWritable(dir) : undefined);
  if (code === undefined) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return new TesseraError(ERROR_CODES.CHECKPOINT_DIR, `${what} ${DISK_ERRORS[code]} (${code}): ${dir}: ${detail}`, { cause: err });
}
