/**
 * Checkpoint options of a command line: the checkpoint it names (`latest` or a bare id under the
 * checkpoint directory, or a path: a checkpoint directory, or a root meaning its latest), and
 * what to do when a checkpoint cannot be written.
 */
import * as path from 'node:path';
import { resolveCheckpointArg } from '../checkpoint';
import { ERROR_CODES, TesseraError } from '../common/errors';

/** Resolves the checkpoint named by `arg` (see above) to its root and id. */
export async function resolveCheckpointRef(arg: string, checkpointDir: string | undefined): Promise<{ root: string; id: string }> {
  if (arg === 'latest' || !arg.includes(path.sep)) {
    if (!checkpointDir) throw new TesseraError(ERROR_CODES.CONFIG, `checkpoint "${arg}" needs --checkpoint-dir DIR (or give DIR/ID)`);
    return arg === 'latest' ? resolveCheckpointArg(checkpointDir) : resolveCheckpointArg(path.join(checkpointDir, arg));
  }
  return resolveCheckpointArg(arg);
}

/** What `--on-checkpoint-error` may say (see ChiefOptions.onCheckpointError). */
export type CheckpointErrorPolicy = 'fail' | 'continue';

/** Checks `--on-checkpoint-error`: `fail` or `continue`; anything else is a configuration error. */
export function checkpointErrorPolicy(value: string | undefined): CheckpointErrorPolicy {
  if (value === 'fail' || value === 'continue') return value;
  throw new TesseraError(ERROR_CODES.CONFIG, `--on-checkpoint-error: must be fail or continue, got "${value}"`);
}
