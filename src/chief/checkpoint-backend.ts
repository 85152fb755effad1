/**
 * The Checkpointer's backend over real PS and files: cut through the checkpoint client, wait for
 * every PS's files, write the manifest (src/checkpoint), collect garbage. Kept apart from the
 * Checkpointer so its protocol stays free of transport and disk.
 */
import * as path from 'node:path';
import { checkpointSeq, collectGarbage, latestCheckpointId, newCheckpointId, writeManifest } from '../checkpoint';
import { buildManifest } from '../client/take-checkpoint';
import type { PsClient } from '../client/ps-client';
import type { CheckpointBackend, CheckpointJob } from './checkpointer';

/** How long every PS together may take to write its files. */
const WRITE_TIMEOUT_MS = 30 * 60_000;

export async function psCheckpointBackend(client: () => PsClient, root: string): Promise<CheckpointBackend> {
  // Ids continue after the newest checkpoint already under root (a resumed job keeps its sequence).
  let seq = 0;
  try {
    seq = checkpointSeq(await latestCheckpointId(root)) ?? 0;
  } catch {
    seq = 0;
  }
  return {
    newId: () => newCheckpointId(++seq),
    async cut(id, kind, base) {
      await client().checkpoints.snapshot(id, root, kind, base);
    },
    async finish(id, kind, base, job: CheckpointJob) {
      const statuses = await client().checkpoints.awaitSnapshot(id, WRITE_TIMEOUT_MS);
      const manifest = buildManifest({ id, kind, base, job }, statuses);
      await writeManifest(path.join(root, id), manifest);
      return { bytes: manifest.files.reduce((n, f) => n + f.bytes, 0) };
    },
    async collect(keep) {
      await collectGarbage(root, keep);
    },
  };
}
