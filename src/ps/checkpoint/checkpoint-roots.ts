/**
 * Where a PS may write and read checkpoints: only under the checkpoint roots it was started
 * with (`--checkpoint-root`). Snapshot's `dir` and Restore's `root` come from the network, so
 * each is checked here before any file is touched: an absolute path, printable, without `..`,
 * equal to a root or inside one, also once symbolic links are resolved. Anything else is
 * INVALID_ARGUMENT naming the field, and a PS without a root refuses both RPCs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ERROR_CODES, TesseraError } from '../../common/errors';

/** Longest path accepted (Linux's PATH_MAX). */
const MAX_PATH = 4096;

function refuse(field: string, dir: string, why: string): never {
  throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `${field}: ${JSON.stringify(dir.slice(0, 256))} ${why}`);
}

/** `p` with symbolic links resolved, for the part of it that exists (the rest appended as is). */
function realPath(p: string): string {
  const rest: string[] = [];
  let cur = p;
  for (;;) {
    try {
      return path.join(fs.realpathSync(cur), ...rest.reverse());
    } catch {
      const up = path.dirname(cur);
      if (up === cur) return p;
      rest.push(path.basename(cur));
      cur = up;
    }
  }
}

function inside(dir: string, root: string): boolean {
  return dir === root || dir.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

/**
 * The checkpoint roots of one PS.
 *
 * ```ts
 * const roots = new CheckpointRoots(['/checkpoints']);
 * roots.check('/checkpoints', 'dir');     // '/checkpoints'
 * roots.check('/etc', 'dir');             // throws INVALID_ARGUMENT
 * ```
 */
export class CheckpointRoots {
  private readonly roots: readonly string[];

  /** `roots`: absolute directories (they need not exist yet); none: every location is refused. */
  constructor(roots: readonly string[]) {
    this.roots = roots.map((r) => path.resolve(r));
  }

  /** The roots, as given (resolved). */
  get list(): readonly string[] {
    return this.roots;
  }

  /** Returns `dir` normalised when it is a root or inside one; otherwise throws naming `field`. */
  check(dir: unknown, field: string): string {
    if (typeof dir !== 'string' || dir === '') throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `${field}: a checkpoint directory is required`);
    if (dir.length > MAX_PATH) refuse(field, dir, `is longer than ${MAX_PATH} characters`);
    // Control characters and U+FFFD (what bytes that are not UTF-8 decode to) never name a checkpoint.
    if (/[\u0000-\u001f\u007f\ufffd]/.test(dir)) refuse(field, dir, 'contains a control character or bytes that are not UTF-8');
    if (!path.isAbsolute(dir)) refuse(field, dir, 'must be an absolute path');
    if (dir.split(/[\\/]/).includes('..')) refuse(field, dir, 'must not contain ".."');
    if (this.roots.length === 0) {
      refuse(field, dir, 'cannot be used: this PS has no checkpoint root (start it with --checkpoint-root DIR or TESSERA_CHECKPOINT_ROOT)');
    }
    const want = path.resolve(dir);
    const real = realPath(want);
    const ok = this.roots.some((r) => inside(want, r) && inside(real, realPath(r)));
    if (!ok) refuse(field, dir, `is not under this PS's checkpoint root (${this.roots.join(', ')})`);
    return want;
  }
}
