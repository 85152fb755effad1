/**
 * Checkpoint options of a command line: the checkpoint it names (`latest` or a bare id under the
 * checkpoint directory, or a path: a checkpoint directory, or a root meaning its latest), and
 * what to do when a checkpoint cannot be written.
 */
import * as path from 'node:path';
import { Manifest, resolveCheckpointArg } from '../checkpoint';
import { ERROR_CODES, TesseraError } from '../common/errors';

/** Resolves the checkpoint named by `arg` (see above) to its root and id. */
export async function resolveCheckpointRef(arg: string, checkpointDir: string | undefined): Promise<{ root: string; id: string }> {
  if (arg === 'latest' || !arg.includes(path.sep)) {
    if (!checkpointDir) throw new TesseraError(ERROR_CODES.CONFIG, `checkpoint "${arg}" needs --checkpoint-dir DIR (or give DIR/ID)`);
    return arg === 'latest' ? resolveCheckpointArg(checkpointDir) : resolveCheckpointArg(path.join(checkpointDir, arg));
  }
  return resolveCheckpointArg(arg);
}

/** Names in a short list for a message: all of them up to 6, else the first three, … and the last. */
function shortList(names: readonly string[]): string {
  return names.length <= 6 ? names.join(', ') : `${names.slice(0, 3).join(', ')}, … ${names[names.length - 1]}`;
}

/**
 * Refuses a warm start (`--init-from`) from a checkpoint holding tables the job does not have
 * (another spec's checkpoint): named in user words before any PS is touched, instead of the
 * restore failing table by table. `.linear` tables come with their feature table.
 */
export function checkWarmStartTables(specTables: readonly string[], m: Manifest): void {
  const mine = new Set(specTables);
  const theirs = m.tables.filter((t) => t.kind === 'embedding').map((t) => t.name);
  if (theirs.every((t) => mine.has(t.replace(/\.linear$/, '')))) return;
  throw new TesseraError(ERROR_CODES.INCOMPATIBLE_SPEC,
    `--init-from ${m.id}: the checkpoint's tables (${shortList(theirs)}) don't match the spec's (${shortList(specTables)}); `
    + 'warm start from a checkpoint of a job with the same tables');
}

/** What `--on-checkpoint-error` may say (see ChiefOptions.onCheckpointError). */
export type CheckpointErrorPolicy = 'fail' | 'continue';

/** Checks `--on-checkpoint-error`: `fail` or `continue`; anything else is a configuration error. */
export function checkpointErrorPolicy(value: string | undefined): CheckpointErrorPolicy {
  if (value === 'fail' || value === 'continue') return value;
  throw new TesseraError(ERROR_CODES.CONFIG, `--on-checkpoint-error: must be fail or continue, got "${value}"`);
}
