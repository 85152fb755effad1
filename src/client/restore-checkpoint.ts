/**
 * Restores a checkpoint from the caller's side: reads its manifest for the dense tables it holds,
 * then asks every PS (or the ones named) to load its share. The checkpoint client itself only
 * sends requests; this is the one place a restoring caller reads the checkpoint's files.
 *
 * ```ts
 * await restoreFromCheckpoint(ps.checkpoints, '/ckpt', 'ckpt-00000003-20260101T120000Z');
 * ```
 */
import * as path from 'node:path';
import { readManifest } from '../checkpoint/manifest';
import type { PsCheckpointClient } from './checkpoint-client';

/**
 * Restores checkpoint `root/id` (with its chain) onto the client's PS; rows loaded per PS.
 *
 * @throws TesseraError CHECKPOINT_NOT_FOUND or CHECKPOINT_CORRUPT naming the manifest, before any PS is asked.
 */
export async function restoreFromCheckpoint(
  client: PsCheckpointClient, root: string, id: string, opts: { onlyPsIds?: readonly number[] } = {},
): Promise<{ psId: number; tables: { table: string; rows: number }[] }[]> {
  const manifest = await readManifest(path.join(root, id));
  const denseTables = manifest.tables.filter((t) => t.kind === 'dense').map((t) => t.name);
  return client.restore({ root, id, denseTables, onlyPsIds: opts.onlyPsIds });
}
