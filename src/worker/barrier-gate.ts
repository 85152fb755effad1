/**
 * The worker's side of the checkpoint barrier. While the chief's barrier says `pause` for a
 * checkpoint this worker has not acknowledged, `holdIfPaused` commits the worker's position
 * (after every push is applied), acknowledges, and waits until the barrier is lowered. So at the
 * cut no push is in flight and every data position is committed: the PS snapshots and the
 * positions describe the same moment (docs/control-plane.md, "Checkpoints").
 */
import type { Logger } from '../common/logger';
import { Signal } from '../common/signal';
import type { JobStore, JobStoreWatch } from '../control/job-store';
import type { Barrier } from '../control/job-types';

export class BarrierGate {
  private barrier: Barrier | undefined;
  private acked = '';
  private readonly changed = new Signal();
  private watch: JobStoreWatch | null = null;

  constructor(private readonly deps: { store: JobStore; worker: string; incarnation: () => string; logger: Logger; now?: () => number; onChange?: () => void }) {}

  async start(): Promise<void> {
    this.watch = await this.deps.store.watchBarrier((b) => {
      this.barrier = b;
      this.changed.notify();
      this.deps.onChange?.();
    });
  }

  async stop(): Promise<void> {
    await this.watch?.stop();
    this.watch = null;
    this.changed.notify();
  }

  /** True while a pause this worker has not yet acknowledged is raised. */
  get pauseRequested(): boolean {
    const b = this.barrier;
    return b !== undefined && b.phase === 'pause' && b.id !== this.acked;
  }

  /**
   * If a pause is requested: runs `settle` (flush pushes, commit the position) and acknowledges,
   * without waiting. The worker keeps computing; its next push waits in {@link untilLowered}.
   * So the pause costs a trainer only the time its next push is held, not a whole cut.
   */
  async ackIfPaused(settle: () => Promise<void>): Promise<void> {
    if (!this.pauseRequested) return;
    const id = this.barrier!.id;
    const now = this.deps.now ?? Date.now;
    const started = now();
    await settle();
    await this.deps.store.ackBarrier({ id, worker: this.deps.worker, incarnation: this.deps.incarnation(), at: now() });
    this.acked = id;
    this.heldSince = now();
    this.settleMs = this.heldSince - started;
  }

  /**
   * Resolves once no acknowledged pause is raised; returns the milliseconds it waited. The first
   * push after each acknowledgement logs what the cut cost this worker (one line per cut): the
   * settle before the acknowledgement and the time this push was held, 0 when the barrier was
   * lowered while the worker computed its next step.
   */
  async untilLowered(stopping: () => boolean = () => false): Promise<number> {
    const id = this.acked;
    const raised = () => this.barrier?.phase === 'pause' && this.barrier.id === id;
    if (!id || (!raised() && id === this.reported)) return 0;
    const now = this.deps.now ?? Date.now;
    const started = now();
    while (raised() && this.watch !== null && !stopping()) await this.changed.wait(1_000);
    const held = now() - started;
    if (id !== this.reported) {
      this.reported = id;
      this.lastHeldMs = held;
      this.deps.logger.info({ checkpoint: id, pushHeldMs: held, settleMs: this.settleMs, sinceAckMs: now() - this.heldSince }, 'checkpoint cut taken; pushes resume');
    }
    return held;
  }

  /** Milliseconds the last push was held by a checkpoint (the training pause this worker saw). */
  lastHeldMs = 0;
  private heldSince = 0;
  private settleMs = 0;
  /** The acknowledged cut whose cost was logged (by the first push after it). */
  private reported = '';

  /**
   * If a pause is requested: runs `settle` (flush pushes, commit the position), acknowledges and
   * waits for the barrier to drop. Returns the milliseconds spent paused (0 if none was asked).
   * For a worker with nothing to compute meanwhile (idle between shards).
   */
  async holdIfPaused(settle: () => Promise<void>, stopping: () => boolean = () => false): Promise<number> {
    if (!this.pauseRequested) return 0;
    const id = this.barrier!.id;
    const now = this.deps.now ?? Date.now;
    const started = now();
    await settle();
    await this.deps.store.ackBarrier({ id, worker: this.deps.worker, incarnation: this.deps.incarnation(), at: started });
    this.acked = id;
    this.deps.logger.info({ checkpoint: id }, 'paused for a checkpoint');
    while (this.barrier?.phase === 'pause' && this.barrier.id === id && this.watch !== null && !stopping()) await this.changed.wait(1_000);
    const paused = now() - started;
    this.deps.logger.info({ checkpoint: id, pausedMs: paused }, 'resumed after the checkpoint cut');
    return paused;
  }
}
