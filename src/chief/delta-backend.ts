/**
 * The delta publisher's backend over real PS and files. Each PS writes its cut through its
 * checkpoint writer (the same copy-on-write cut, rows written since the base and tombstones of the
 * rows evicted since then) into a staging folder under the checkpoint root, the only place a PS
 * may write; the chief reads those files back, drops the optimizer state, and publishes weights
 * only: a delta (src/export/delta-dir.ts) or, for a full cut, a model version
 * (src/export/model-root.ts). The staged cut is removed once published or failed.
 */
import { rm } from 'node:fs/promises';
import * as path from 'node:path';
import type { PsClient } from '../client/ps-client';
import { buildManifest } from '../client/take-checkpoint';
import { asDiskError } from '../common/disk-errors';
import type { Logger } from '../common/logger';
import { cutRowSource, readCutContent } from '../export/cut-content';
import { listDeltas, pruneDeltas, writeDelta } from '../export/delta-dir';
import { writeModel } from '../export/model-dir';
import { lastVersion, publishVersion } from '../export/model-root';
import { specFingerprint } from '../spec/job-spec';
import type { JobSpec } from '../spec/types';
import type { DeltaBackend } from './delta-publisher';

/** The folder under the checkpoint root where the PS write the cuts of deltas. */
export const DELTA_STAGING_DIR = 'delta-cuts';
/** How long every PS together may take to write a cut's files. */
const WRITE_TIMEOUT_MS = 10 * 60_000;

export interface DeltaBackendOptions {
  client: () => PsClient;
  spec: JobSpec;
  /** The PS's checkpoint root; the cuts are staged in its DELTA_STAGING_DIR. */
  checkpointRoot: string;
  /** The model root the versions and deltas are published into. */
  exportRoot: string;
  logger: Logger;
}

/** A DeltaBackend cutting through `client` and publishing under `exportRoot`. */
export function psDeltaBackend(o: DeltaBackendOptions): DeltaBackend {
  const staging = path.join(o.checkpointRoot, DELTA_STAGING_DIR);
  const name = o.spec.name;
  const fingerprint = specFingerprint(o.spec);
  let seq = 0;
  return {
    // Unique across chief restarts: the PS remember their recent cuts by id.
    newId: () => `delta-${Date.now().toString(36)}-${process.pid}-${++seq}`,
    parties: (id, kind, base) => o.client().checkpoints.stepCutParties(id, staging, kind, base),
    async publish(id, kind, parent, info) {
      const dir = path.join(staging, id);
      try {
        const statuses = await o.client().checkpoints.awaitSnapshot(id, WRITE_TIMEOUT_MS);
        const cut = await readCutContent(dir, buildManifest({ id, kind, base: undefined }, statuses));
        const rows = cut.tables.reduce((n, t) => n + (t.ids.length >>> 1), 0);
        const tombstones = cut.tables.reduce((n, t) => n + (t.tombstones.length >>> 1), 0);
        const [denseName, dense] = [...cut.dense.entries()][0] ?? ['dense', new Float32Array(0)];
        if (kind === 'full') {
          const content = {
            spec: o.spec, tables: cut.specs.filter((s) => s.kind === 'embedding'), dense: cut.specs.find((s) => s.kind === 'dense')!,
            step: info.step, samples: info.samples, rows: cutRowSource(cut),
          };
          const v = await publishVersion(o.exportRoot, name, (d) => writeModel(d, content));
          return { version: v.version, bytes: 0, rows, tombstones: 0 };
        }
        const version = Math.max(lastVersion(o.exportRoot, name), listDeltas(o.exportRoot, name).pop() ?? 0, parent ?? 0) + 1;
        const out = await writeDelta(o.exportRoot, name, {
          version, parent: parent!, cutAt: info.cutAt, step: info.step, samples: info.samples, specFingerprint: fingerprint,
          pauseMs: info.pauseMs, tables: cut.tables, dense: { name: denseName, values: dense },
        });
        return { version, bytes: out.bytes, rows, tombstones };
      } catch (err) {
        throw asDiskError(err, o.exportRoot, 'export dir');
      } finally {
        await rm(dir, { recursive: true, force: true }).catch((err: Error) => o.logger.warn({ dir, err: err.message }, 'could not remove a staged delta cut'));
      }
    },
    async prune(before) {
      const gone = pruneDeltas(o.exportRoot, name, before);
      if (gone.length) o.logger.info({ deleted: gone.length, before }, 'deleted old deltas');
    },
  };
}
