/**
 * Worker metrics, fed by the trainer's onStep callback, by evaluation results and by the PS
 * client's push-staleness reports; push-window figures are read from the PS client when scraped.
 *
 * Series (plus the registry's tessera_job/role/id labels): tessera_worker_samples_total,
 * tessera_worker_samples_per_second, tessera_worker_loss, tessera_worker_step,
 * tessera_worker_eval_auc, tessera_worker_eval_logloss (absent until an evaluation),
 * tessera_worker_{pull_wait,compute,push_wait}_seconds_total (where step time goes),
 * tessera_worker_bad_lines_total, tessera_worker_shard_failures_total,
 * tessera_worker_push_staleness_updates (histogram: per row of a sampled step, the updates that
 * landed on it between its pull and its push), tessera_worker_pushes_in_flight (the push
 * window's fill, in steps), tessera_worker_push_throttles_total.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import { StalenessTally, STALENESS_BUCKETS } from '../control/push-staleness';
import { CountsHistogram } from '../metrics/counts-histogram';
import { OptionalGauge } from '../metrics/optional-gauge';

/** What onStep reports (structurally the trainer's StepInfo). */
export interface StepFigures {
  step: number;
  /** Samples trained so far (cumulative). */
  samples: number;
  loss: number;
  /** This step's waits and compute, seconds. */
  time?: { pullWaitS: number; computeS: number; pushWaitS: number };
}

/** The push window of a PS client (PsDataClient satisfies this). */
export interface PushWindowSource {
  readonly inflightPushes: number;
  readonly pushThrottles: number;
}

/**
 * Push-window figures reported by data threads (data-thread-session.ts), one after another: each
 * new thread's client counts its throttles from 0, so the total adds what the earlier ones counted.
 */
export class ReportedPushWindow implements PushWindowSource {
  inflightPushes = 0;
  private before = 0;
  private last = 0;

  get pushThrottles(): number {
    return this.before + this.last;
  }

  /** The current thread's figures; a throttle count below its last means a new thread. */
  update(f: PushWindowSource): void {
    if (f.pushThrottles < this.last) this.before += this.last;
    this.last = f.pushThrottles;
    this.inflightPushes = f.inflightPushes;
  }
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
  /** Push staleness so far: what the histogram exports, and what shard progress records carry. */
  readonly staleness = new StalenessTally();
  private readonly samplesTotal: Counter;
  private readonly samplesPerS: Gauge;
  private readonly loss: Gauge;
  private readonly step: Gauge;
  private readonly auc: OptionalGauge;
  private readonly logloss: OptionalGauge;
  private readonly seconds: Record<'pull' | 'compute' | 'push', Counter>;
  private readonly badLines: Counter;
  private readonly shardFailures: Counter;
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
    this.auc = new OptionalGauge(registry, 'tessera_worker_eval_auc', 'AUC of the last evaluation (absent before one).');
    this.logloss = new OptionalGauge(registry, 'tessera_worker_eval_logloss', 'LogLoss of the last evaluation (absent before one).');
    const counter = (name: string, help: string) => new Counter({ name, help, registers });
    this.seconds = {
      pull: counter('tessera_worker_pull_wait_seconds_total', 'Step time spent waiting for pulled rows (and gathering the batch).'),
      compute: counter('tessera_worker_compute_seconds_total', 'Step time spent in the model (forward, backward, gradient split).'),
      push: counter('tessera_worker_push_wait_seconds_total', 'Step time spent waiting for room in the push window.'),
    };
    this.badLines = counter('tessera_worker_bad_lines_total', 'Malformed data lines skipped.');
    this.shardFailures = counter('tessera_worker_shard_failures_total', 'Times training a data shard failed (it is retried from its last committed position).');
    const tally = this.staleness;
    registry.registerMetric(new CountsHistogram({
      name: 'tessera_worker_push_staleness_updates',
      help: 'Push staleness: per row of a sampled step\'s push, the updates other pushes applied to it between its pull and this push.',
      bounds: STALENESS_BUCKETS, read: () => [{ labels: {}, counts: tally.counts, sum: tally.sum }],
    }) as never);
    const pushes = opts.pushes;
    if (!pushes) return;
    new Gauge({
      name: 'tessera_worker_pushes_in_flight', help: 'Training steps whose pushes were sent and not yet acknowledged (the push window, bounded by max_inflight_pushes).', registers,
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
    if (s.time) {
      this.seconds.pull.inc(s.time.pullWaitS);
      this.seconds.compute.inc(s.time.computeS);
      this.seconds.push.inc(s.time.pushWaitS);
    }
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

  /** Counts malformed lines skipped. */
  onBadLines(n: number): void {
    this.badLines.inc(n);
  }

  /** Counts one failed attempt at a data shard. */
  onShardFailure(): void {
    this.shardFailures.inc();
  }

  /** Counts push staleness the PS client measured (pass it as the client's onStaleness). */
  onStaleness(updates: Uint32Array): void {
    this.staleness.observe(updates);
  }

  /** Records an evaluation result. */
  onEval(r: { auc: number; logloss: number }): void {
    this.auc.set(r.auc);
    this.logloss.set(r.logloss);
  }
}
