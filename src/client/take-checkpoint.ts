/**
 * The PS half of a checkpoint from the caller's side: cut every PS, wait for their files, and
 * write the manifest last. The chief wraps this with its pause of the workers and fills `job`;
 * tests, benchmarks and tools call it directly.
 *
 * ```ts
 * const m = await takeCheckpoint(ps.checkpoints, '/ckpt', { id: newCheckpointId(1), kind: 'full', job: { step: 100 } });
 * ```
 */
import * as path from 'path';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { tableLayoutOf } from '../ps/table-layout';
import type { PsCheckpointClient, PsSnapshotResult, PsSnapshotStatus } from './checkpoint-client';
import { Manifest, MANIFEST_FORMAT, ManifestTable, writeManifest } from '../checkpoint/manifest';

/** Which checkpoint to take: its id, full or incremental on `base`, and the manifest's `job`. */
export interface TakeCheckpointOptions {
  id: string;
  kind: 'full' | 'incremental';
  base?: string;
  /** opaque JSON for the manifest's `job` field */
  job?: unknown;
  /** how long the PS may take to write their files (default 10 min) */
  timeoutMs?: number;
}

/** The manifest of a checkpoint whose PS all reported DONE. */
export function buildManifest(opts: TakeCheckpointOptions, statuses: PsSnapshotStatus[], createdAt = new Date()): Manifest {
  const first = statuses[0];
  for (const s of statuses) {
    if (s.numBuckets !== first.numBuckets || s.shardMapVersion !== first.shardMapVersion) {
      throw new TesseraError(ERROR_CODES.SNAPSHOT_CONFLICT,
        `checkpoint "${opts.id}": ps ${s.psId} cut at shard map ${s.shardMapVersion}/${s.numBuckets} buckets, ps ${first.psId} at ${first.shardMapVersion}/${first.numBuckets}`);
    }
  }
  const tables = new Map<string, ManifestTable>();
  for (const s of statuses) for (const t of s.tables) tables.set(t.name, tableLayoutOf(t));
  return {
    format: MANIFEST_FORMAT, id: opts.id, kind: opts.kind, base: opts.kind === 'incremental' ? opts.base ?? null : null,
    createdAt: createdAt.toISOString(), numBuckets: first.numBuckets, shardMapVersion: first.shardMapVersion,
    tables: [...tables.values()].sort((a, b) => (a.name < b.name ? -1 : 1)),
    files: statuses.flatMap((s) => s.files),
    job: opts.job ?? null,
  };
}

/** Snapshots every PS into `root/<id>`, waits for the files, writes the manifest; returns it and the cut times. */
export async function takeCheckpoint(client: PsCheckpointClient, root: string, opts: TakeCheckpointOptions): Promise<{ manifest: Manifest; cutMs: number; writeMs: number; cuts: PsSnapshotResult[] }> {
  const t0 = performance.now();
  const cuts = await client.snapshot(opts.id, root, opts.kind, opts.base);
  const cutMs = performance.now() - t0;
  const statuses = await client.awaitSnapshot(opts.id, opts.timeoutMs ?? 600_000);
  const manifest = buildManifest(opts, statuses);
  await writeManifest(path.join(root, opts.id), manifest);
  return { manifest, cutMs, writeMs: performance.now() - t0, cuts };
}
