/**
 * The Checkpointer's backend over real PS and files: cut through the checkpoint client, wait for
 * every PS's files, write the manifest (src/checkpoint), collect garbage. Kept apart from the
 * Checkpointer so its protocol stays free of transport and disk.
 *
 * A checkpoint that fails once cut (a PS could not write its files, the manifest could not be
 * written) is removed, once no PS writes into it any more: a partial checkpoint is never read
 * (it has no manifest), and on a full disk it would only keep the disk full. A disk error is
 * reported as TESSERA_ERR_CHECKPOINT_DIR ("checkpoint dir full (ENOSPC): …"), never retried.
 */
import { rm } from 'node:fs/promises';
import * as path from 'node:path';
import { checkpointSeq, collectGarbage, latestCheckpointId, newCheckpointId, writeManifest } from '../checkpoint';
import { asDiskError } from '../common/disk-errors';
import type { Logger } from '../common/logger';
import { buildManifest } from '../client/take-checkpoint';
import type { PsClient } from '../client/ps-client';
import type { CheckpointBackend, CheckpointJob } from './checkpointer';

/** How long every PS together may take to write its files. */
const WRITE_TIMEOUT_MS = 30 * 60_000;
/** How long a failed checkpoint's removal waits for the other PS to stop writing into it. */
const DISCARD_WAIT_MS = 60_000;
/** Poll interval of that wait: the PS's state only moves from WRITING to DONE or FAILED. */
const DISCARD_POLL_MS = 50;

export async function psCheckpointBackend(client: () => PsClient, root: string, logger: Logger): Promise<CheckpointBackend> {
  // Ids continue after the newest checkpoint already under root (a resumed job keeps its sequence).
  let seq = 0;
  try {
    seq = checkpointSeq(await latestCheckpointId(root)) ?? 0;
  } catch {
    seq = 0;
  }
  return {
    newId: () => newCheckpointId(++seq),
    parties: (id, kind, base) => client().checkpoints.stepCutParties(id, root, kind, base),
    async finish(id, kind, base, job: CheckpointJob) {
      try {
        const statuses = await client().checkpoints.awaitSnapshot(id, WRITE_TIMEOUT_MS);
        const manifest = buildManifest({ id, kind, base, job }, statuses);
        await writeManifest(path.join(root, id), manifest);
        return { bytes: manifest.files.reduce((n, f) => n + f.bytes, 0) };
      } catch (err) {
        await discard(client(), root, id, logger);
        throw asDiskError(err, root);
      }
    },
    async collect(keep) {
      await collectGarbage(root, keep);
    },
  };
}

/** Removes `root/id` once no PS is writing it (or after DISCARD_WAIT_MS). Never throws. */
async function discard(client: PsClient, root: string, id: string, logger: Logger): Promise<void> {
  const deadline = Date.now() + DISCARD_WAIT_MS;
  for (;;) {
    const statuses = await client.checkpoints.snapshotStatus(id).catch(() => []);
    if (!statuses.some((s) => s.state === 'WRITING') || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, DISCARD_POLL_MS));
  }
  const dir = path.join(root, id);
  await rm(dir, { recursive: true, force: true }).then(
    () => logger.warn({ checkpoint: id, dir }, 'removed the failed checkpoint\'s partial files'),
    (err: Error) => logger.error({ checkpoint: id, dir, err: err.message }, 'could not remove the failed checkpoint\'s partial files'),
  );
}
