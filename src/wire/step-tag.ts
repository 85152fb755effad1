/**
 * The step a push belongs to, for a cut at per-worker step numbers (ADR 0040): carried by
 * PushRequest fields 11-14 and 16 (data-plane-codec.ts), read by the PS's StepLedger.
 */

/** The step a push belongs to, as the worker tags it. */
export interface StepTag {
  /**
   * The worker process's random step-numbering id. Not the idempotent-push client id: a worker
   * draws a new one of those with each shard map, while its step numbers run on.
   */
  client: bigint;
  /** The worker's step number, from 1, the same on every push of the step. */
  step: number;
  /** Requests this step sends to this PS, chunks included (at least 1: an empty one when it touches none). */
  parts: number;
  /** Highest step whose every push, to every PS, the worker has seen answered (0: none). */
  ackedThrough: number;
  /** The worker's data positions once this step is trained (opaque here; the chief reads them). */
  positions: Uint8Array;
}

