/**
 * gRPC handlers of the PsAdmin checkpoint RPCs (Snapshot, SnapshotStatus, Restore): request
 * shapes in, src/checkpoint out. The data plane never reaches these.
 */
import { ERROR_CODES, TesseraError } from '../../common/errors';
import { checkNumBuckets } from '../../sharding/buckets';
import type { Logger } from '../../common/logger';
import { checkCheckpointId } from '../../checkpoint/checkpoint-id';
import type { CheckpointRoots } from './checkpoint-roots';
import { restoreCheckpoint } from './restore-loader';
import { SnapshotJobs } from './snapshot-jobs';
import type { PsNode } from '../ps-node';
import { tableSpecToWire } from '../table-spec-wire';

/** A Snapshot request as proto-loader decodes it. */
export interface SnapshotRequestMsg { checkpointId: string; dir: string; kind: string; baseId: string; psId: number }
/** A Restore request as proto-loader decodes it. */
export interface RestoreRequestMsg { root: string; checkpointId: string; buckets: Buffer; numBuckets: number; denseTables: string[] }

/** Decodes packed little-endian uint16 bucket numbers into a bucket → 1 mask (empty: no bucket). */
export function bucketMask(packed: Uint8Array, numBuckets: number): Uint8Array {
  checkNumBuckets(numBuckets, 'num_buckets');
  if (packed.byteLength % 2 !== 0) throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `buckets: ${packed.byteLength} bytes is not a multiple of 2 (packed uint16)`);
  const mask = new Uint8Array(numBuckets);
  const dv = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
  for (let i = 0; i < packed.byteLength; i += 2) {
    const b = dv.getUint16(i, true);
    if (b >= numBuckets) throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `buckets: bucket ${b} is outside [0, ${numBuckets})`);
    mask[b] = 1;
  }
  return mask;
}

/**
 * The three handlers' bodies, bound to one node. Snapshot and Restore touch only directories
 * under `roots` (checkpoint-roots.ts), and their checkpoint ids are checked alike.
 */
export function checkpointHandlers(node: PsNode, logger: Logger, roots: CheckpointRoots) {
  const jobs = new SnapshotJobs(node, logger);
  return {
    snapshot(req: SnapshotRequestMsg): { cutRows: number; cutMicros: number } {
      if (req.kind !== 'full' && req.kind !== 'incremental') {
        throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `kind: must be "full" or "incremental", got ${JSON.stringify(req.kind)}`);
      }
      const root = roots.check(req.dir, 'dir');
      const id = checkCheckpointId(req.checkpointId, 'checkpoint_id');
      const baseId = req.baseId ? checkCheckpointId(req.baseId, 'base_id') : undefined;
      const r = jobs.start({ id, root, kind: req.kind, baseId, psId: req.psId });
      return { cutRows: r.cutRows, cutMicros: r.cutMicros };
    },
    snapshotStatus(req: { checkpointId: string }) {
      const s = jobs.status(req.checkpointId);
      return {
        state: s.state, files: s.files.map((f) => ({ ...f, kind: f.kind ?? 'rows' })), error: s.error,
        tables: s.tables.map(tableSpecToWire), numBuckets: s.numBuckets, shardMapVersion: s.shardMapVersion, copiedSlabs: s.copiedSlabs,
      };
    },
    async restore(req: RestoreRequestMsg) {
      const root = roots.check(req.root, 'root');
      const id = checkCheckpointId(req.checkpointId, 'checkpoint_id');
      const t0 = performance.now();
      const tables = await restoreCheckpoint(node, {
        root, id, buckets: bucketMask(req.buckets, req.numBuckets), numBuckets: req.numBuckets, denseTables: req.denseTables,
      });
      logger.info({ id, tables, ms: Math.round(performance.now() - t0) }, 'checkpoint restored');
      return { tables };
    },
  };
}
