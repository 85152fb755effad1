/**
 * The PsAdmin handlers of a cut at per-worker step numbers (ADR 0040): PrepareCut, CutAt and
 * ReleaseCut over the PS's CutHold, CutAt taking the same snapshot as Snapshot.
 */
import { ERROR_CODES, TesseraError } from '../../common/errors';
import type { CutHold } from '../cut-hold';
import type { SnapshotRequestMsg } from './checkpoint-handlers';

/** A WorkerStep as proto-loader decodes it (step_client: 8 bytes little-endian). */
export interface WorkerStepMsg { stepClient: Buffer; step: number; positions?: Buffer; acknowledged?: boolean }

/** The longest hold or wait a request may ask for, ms: a hold stops a worker's pushes. */
export const MAX_CUT_HOLD_MS = 60_000;

function checkMs(ms: number, field: string): number {
  if (!(Number.isInteger(ms) && ms > 0 && ms <= MAX_CUT_HOLD_MS)) {
    throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `${field}: must be 1-${MAX_CUT_HOLD_MS} ms, got ${ms}`);
  }
  return ms;
}

function clientOf(s: WorkerStepMsg, i: number): bigint {
  if (s.stepClient?.byteLength !== 8) throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `steps[${i}].step_client: must be 8 bytes, got ${s.stepClient?.byteLength ?? 0}`);
  return s.stepClient.readBigUInt64LE(0);
}

function clientBytes(client: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(client);
  return b;
}

/** The three handlers' bodies over `hold`; `snapshot` is the Snapshot handler's. */
export function cutHandlers(hold: CutHold, snapshot: (req: SnapshotRequestMsg) => { cutRows: number; cutMicros: number }) {
  return {
    prepareCut(req: { cutId: string; holdMs: number }): { steps: WorkerStepMsg[] } {
      const highest = hold.prepare(req.cutId, checkMs(req.holdMs, 'hold_ms'));
      return { steps: [...highest].map(([c, a]) => ({ stepClient: clientBytes(c), step: a.step, positions: Buffer.from(a.positions) })) };
    },
    async cutAt(req: { cutId: string; steps: WorkerStepMsg[]; waitMs: number; snapshot: SnapshotRequestMsg | null }) {
      if (!req.snapshot) throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, 'snapshot: the snapshot to take at the cut is missing');
      const steps = new Map(req.steps.map((s, i) => [clientOf(s, i), s.step]));
      const acknowledged = req.steps.flatMap((s, i) => (s.acknowledged === true ? [clientOf(s, i)] : []));
      const snap = req.snapshot;
      return { snapshot: await hold.cutAt(req.cutId, steps, checkMs(req.waitMs, 'wait_ms'), () => snapshot(snap), acknowledged) };
    },
    releaseCut(req: { cutId: string; reason: string }): { released: boolean } {
      return { released: hold.release(req.cutId, req.reason || 'released by the chief') };
    },
  };
}

/** Helpers for the caller's side (src/client), which encodes and decodes the same messages. */
export const workerStepWire = { clientOf, clientBytes };
