/**
 * `tessera chief --delta-every S`: wires the delta stream to serving (src/chief/delta-publisher.ts)
 * over the real PS, the model root and the job's etcd store, after checking its flags.
 */
import * as path from 'node:path';
import type { PsClient } from '../client/ps-client';
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { Logger } from '../common/logger';
import type { JobStore } from '../control/job-store';
import type { Checkpointer } from '../chief/checkpointer';
import { psDeltaBackend } from '../chief/delta-backend';
import { DeltaPublisher } from '../chief/delta-publisher';
import { intOption, ParsedArgs } from '../runtime/args';
import type { JobSpec } from '../spec/types';

/** What the delta stream is built from. */
export interface DeltaStreamOptions {
  args: ParsedArgs;
  spec: JobSpec;
  checkpointer: Checkpointer | undefined;
  checkpointDir: string | undefined;
  exportDir: string | undefined;
  store: JobStore;
  client: () => PsClient;
  logger: Logger;
}

/**
 * `--delta-every` in ms (0: no deltas), checked before anything starts.
 * @throws TesseraError CONFIG when --export-dir or --checkpoint-dir is missing, or a number is bad
 */
export function deltaEveryMs(args: ParsedArgs, checkpointDir: string | undefined, exportDir: string | undefined): number {
  const everyS = intOption(args, 'delta-every', 0);
  if (everyS === 0) return 0;
  intOption(args, 'full-every', 1);
  if (!exportDir) throw new TesseraError(ERROR_CODES.CONFIG, '--delta-every needs --export-dir ROOT: the deltas are published under ROOT/<name>/deltas/');
  if (!checkpointDir) {
    throw new TesseraError(ERROR_CODES.CONFIG, '--delta-every needs --checkpoint-dir DIR: the parameter servers write each delta\'s cut under their checkpoint root');
  }
  return 1000 * everyS;
}

/** The chief's `deltas` option for `--delta-every S` (undefined for 0); flags as `deltaEveryMs` checks them. */
export function deltaStream(o: DeltaStreamOptions): { publisher: DeltaPublisher; everyMs: number } | undefined {
  const everyMs = deltaEveryMs(o.args, o.checkpointDir, o.exportDir);
  if (everyMs === 0 || !o.checkpointer || !o.checkpointDir || !o.exportDir) return undefined;
  const exportRoot = path.resolve(o.exportDir);
  const fullEvery = intOption(o.args, 'full-every', 1);
  const publisher = new DeltaPublisher({
    checkpointer: o.checkpointer, logger: o.logger.child({ component: 'deltas' }), fullEvery,
    backend: psDeltaBackend({ client: o.client, spec: o.spec, checkpointRoot: o.checkpointDir, exportRoot, logger: o.logger }),
    announce: (version) => o.store.putDeltaPointer({ name: o.spec.name, root: exportRoot, version, at: new Date().toISOString() }),
  });
  return { publisher, everyMs };
}
