/**
 * Loads a consistent checkpoint (src/checkpoint) as a model in this process: its tables and dense
 * weights into an in-process PsNode, its spec from the manifest. What `tessera eval` reads.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readManifest, resolveCheckpointArg } from '../checkpoint';
import { restoreCheckpoint } from '../ps/checkpoint/restore-loader';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { silentLogger } from '../common/logger';
import { PsNode } from '../ps/ps-node';
import { tableSpecOfLayout } from '../ps/table-layout';
import { parseJobSpec } from '../spec/job-spec';
import type { JobSpec } from '../spec/types';
import { LocalParams } from './local-params';

/** True when `dir` is a checkpoint directory or a checkpoint root (not a `tessera train --out` model). */
export function isCheckpointPath(dir: string): boolean {
  if (fs.existsSync(path.join(dir, 'manifest.json'))) return true;
  return fs.existsSync(dir) && !fs.existsSync(path.join(dir, 'model.json')) && fs.readdirSync(dir).some((d) => d.startsWith('ckpt-'));
}

export async function loadCheckpointModel(arg: string): Promise<{ spec: JobSpec; params: LocalParams; id: string; step: number }> {
  const { root, id } = await resolveCheckpointArg(arg);
  const manifest = await readManifest(path.join(root, id));
  const job = manifest.job as { spec?: { yaml?: string }; step?: number } | null;
  if (!job?.spec?.yaml) throw new TesseraError(ERROR_CODES.CHECKPOINT_CORRUPT, `checkpoint ${id}: no job spec in its manifest (was it written by a chief?)`);
  const spec = parseJobSpec(job.spec.yaml, `checkpoint ${id} spec`);
  const node = new PsNode({ config: { maxRequestBytes: 1 << 30 }, logger: silentLogger() });
  const specs = manifest.tables.map(tableSpecOfLayout);
  for (const t of specs) node.createTable(t);
  await restoreCheckpoint(node, { root, id, buckets: null, numBuckets: manifest.numBuckets, denseTables: specs.filter((t) => t.kind === 'dense').map((t) => t.name) });
  return { spec, params: new LocalParams(node.store), id, step: job.step ?? 0 };
}
