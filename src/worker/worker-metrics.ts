/**
 * Worker metrics, fed by the trainer's onStep callback and by evaluation results; push-window
 * figures are read from the PS client when scraped.
 *
 * Series (plus the registry's job/role/id labels): tessera_worker_samples_total,
 * tessera_worker_samples_per_second, tessera_worker_loss, tessera_worker_step,
 * tessera_worker_eval_auc, tessera_worker_eval_logloss, tessera_worker_inflight_pushes,
 * tessera_worker_push_throttles_total.
 */
import { Counter, Gauge, Registry } from 'prom-client';

/** What onStep reports (structurally the trainer's StepInfo). */
export interface StepFigures {
  step: number;
  /** Samples trained so far (cumulative). */
  samples: number;
  loss: number;
}

/** The push window of a PS client (PsDataClient satisfies this). */
export interface PushWindowSource {
  readonly inflightPushes: number;
  readonly pushThrottles: number;
}

/** Options for WorkerMetrics. */
export interface WorkerMetricsOptions {
  /** Read on every scrape for the push-window series. */
  pushes?: PushWindowSource;
  /** Clock in ms; defaults to performance.now(). */
  now?: () => number;
  /** Window over which samples/s is measured; defaults to SAMPLES_RATE_WINDOW_MS. */
  rateWindowMs?: number;
}

/** samples/s is recomputed once this much time has passed, so one slow batch does not spike it. */
export const SAMPLES_RATE_WINDOW_MS = 1_000;

/**
 * The metrics of one worker.
 *
 * ```ts
 * const { registry } = createMetrics({ job: spec.name, role: 'worker', id: 'worker-0' });
 * const wm = new WorkerMetrics(registry, { pushes: psClient });
 * const { trainer } = buildJob(spec, psClient, logger, (s) => wm.onStep(s));
 * wm.onEval(await trainer.evaluate(batches));
 * ```
 */
export class WorkerMetrics {
  private readonly samplesTotal: Counter;
  private readonly samplesPerS: Gauge;
  private readonly loss: Gauge;
  private readonly step: Gauge;
  private readonly auc: Gauge;
  private readonly logloss: Gauge;
  private readonly now: () => number;
  private readonly windowMs: number;
  private lastSamples = 0;
  private mark: { atMs: number; samples: number } | null = null;

  constructor(registry: Registry, opts: WorkerMetricsOptions = {}) {
    const registers = [registry];
    this.now = opts.now ?? (() => performance.now());
    this.windowMs = opts.rateWindowMs ?? SAMPLES_RATE_WINDOW_MS;
    this.samplesTotal = new Counter({ name: 'tessera_worker_samples_total', help: 'Samples trained on.', registers });
    this.samplesPerS = new Gauge({ name: 'tessera_worker_samples_per_second', help: 'Training throughput over the last window.', registers });
    this.loss = new Gauge({ name: 'tessera_worker_loss', help: 'Training loss of the last step.', registers });
    this.step = new Gauge({ name: 'tessera_worker_step', help: 'Training steps completed.', registers });
    this.auc = new Gauge({ name: 'tessera_worker_eval_auc', help: 'AUC of the last evaluation.', registers });
    this.logloss = new Gauge({ name: 'tessera_worker_eval_logloss', help: 'LogLoss of the last evaluation.', registers });
    const pushes = opts.pushes;
    if (!pushes) return;
    new Gauge({
      name: 'tessera_worker_inflight_pushes', help: 'Steps whose pushes are still in flight (push staleness, in steps).', registers,
      collect() {
        this.set(pushes.inflightPushes);
      },
    });
    let seen = 0;
    new Counter({
      name: 'tessera_worker_push_throttles_total', help: 'Times a push waited for room in the push window.', registers,
      collect() {
        const total = pushes.pushThrottles;
        if (total > seen) this.inc(total - seen);
        seen = total;
      },
    });
  }

  /** Records one training step (pass it as, or call it from, the trainer's onStep). */
  onStep(s: StepFigures): void {
    if (s.samples > this.lastSamples) this.samplesTotal.inc(s.samples - this.lastSamples);
    this.lastSamples = s.samples;
    this.loss.set(s.loss);
    this.step.set(s.step);
    const at = this.now();
    if (!this.mark) {
      this.mark = { atMs: at, samples: s.samples };
      return;
    }
    const elapsedMs = at - this.mark.atMs;
    if (elapsedMs >= this.windowMs) {
      this.samplesPerS.set((s.samples - this.mark.samples) / (elapsedMs / 1000));
      this.mark = { atMs: at, samples: s.samples };
    }
  }

  /** Records an evaluation result. */
  onEval(r: { auc: number; logloss: number }): void {
    this.auc.set(r.auc);
    this.logloss.set(r.logloss);
  }
}
