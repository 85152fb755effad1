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
 * The chief's `deltas` option for `--delta-every S` (undefined for 0).
 * @throws TesseraError CONFIG when --export-dir or --checkpoint-dir is missing
 */
export function deltaStream(o: DeltaStreamOptions): { publisher: DeltaPublisher; everyMs: number } | undefined {
  const everyS = intOption(o.args, 'delta-every', 0);
  if (everyS === 0) return undefined;
  if (!o.exportDir) throw new TesseraError(ERROR_CODES.CONFIG, '--delta-every needs --export-dir ROOT: the deltas are published under ROOT/<name>/deltas/');
  if (!o.checkpointDir || !o.checkpointer) {
    throw new TesseraError(ERROR_CODES.CONFIG, '--delta-every needs --checkpoint-dir DIR: the parameter servers write each delta\'s cut under their checkpoint root');
  }
  const exportRoot = path.resolve(o.exportDir);
  const fullEvery = intOption(o.args, 'full-every', 1);
  const publisher = new DeltaPublisher({
    checkpointer: o.checkpointer, logger: o.logger.child({ component: 'deltas' }), fullEvery,
    backend: psDeltaBackend({ client: o.client, spec: o.spec, checkpointRoot: o.checkpointDir, exportRoot, logger: o.logger }),
    announce: (version) => o.store.putDeltaPointer({ name: o.spec.name, root: exportRoot, version, at: new Date().toISOString() }),
  });
  return { publisher, everyMs: 1000 * everyS };
}
