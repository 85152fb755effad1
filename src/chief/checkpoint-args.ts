/**
 * Resolves the checkpoint named on a command line: `latest` or a bare id under the checkpoint
 * directory, or a path (a checkpoint directory, or a root meaning its latest).
 */
import * as path from 'node:path';
import { resolveCheckpointArg } from '../checkpoint';
import { ERROR_CODES, TesseraError } from '../common/errors';

export async function resolveCheckpointRef(arg: string, checkpointDir: string | undefined): Promise<{ root: string; id: string }> {
  if (arg === 'latest' || !arg.includes(path.sep)) {
    if (!checkpointDir) throw new TesseraError(ERROR_CODES.CONFIG, `checkpoint "${arg}" needs --checkpoint-dir DIR (or give DIR/ID)`);
    return arg === 'latest' ? resolveCheckpointArg(checkpointDir) : resolveCheckpointArg(path.join(checkpointDir, arg));
  }
  return resolveCheckpointArg(arg);
}
