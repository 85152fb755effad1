/**
 * Job-level metrics on the chief, fed by its status and its checkpoints. The epoch is 1-based,
 * as `tessera local`'s progress line, `tessera status` and the status page show it. Figures that
 * are unknown (no loss reported yet, no evaluation yet, no checkpoint yet) are absent, not 0.
 *
 * Series (plus the registry's tessera_job/role/id labels):
 * - tessera_job_epoch, tessera_job_epochs (the target), tessera_job_phase{phase}
 * - tessera_job_step, tessera_job_samples_total (counter), tessera_job_samples_per_second
 * - tessera_job_loss, tessera_job_eval_auc, tessera_job_eval_logloss
 * - tessera_job_shards_done, tessera_job_shards, tessera_job_workers
 * - tessera_job_nonfinite_stops: data shards of this epoch stopped on a NaN/Inf loss
 * - tessera_chief_is_leader; recoveries: tessera_job_ps_restored_total,
 *   tessera_job_tables_restored_total, tessera_job_shard_map_republished_total,
 *   tessera_job_checkpoint_failures_total{reason}
 * - tessera_checkpoint_last_success_timestamp_seconds, tessera_checkpoint_duration_seconds
 *   (histogram), tessera_checkpoint_bytes (the last one), tessera_checkpoint_interval_seconds
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { diskErrorCode } from '../common/disk-errors';
import type { TesseraError } from '../common/errors';
import type { JobPhase, JobStatus } from '../control/job-types';
import { OptionalGauge } from '../metrics/optional-gauge';
import type { ChiefEvents } from './chief';
import type { CheckpointOutcome } from './checkpointer';

const PHASES: readonly JobPhase[] = ['train', 'eval', 'done', 'failed'];

/** Checkpoint durations, seconds: a small job writes in well under a second, 10M rows in ~5 s. */
export const CHECKPOINT_DURATION_BUCKETS_S = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/**
 * The chief's series on `registry`.
 *
 * ```ts
 * const metrics = new ChiefMetrics(rt.metrics.registry);
 * const chief = new Chief({ ..., onStatus: (s) => metrics.onStatus(s) });
 * ```
 */
export class ChiefMetrics implements ChiefEvents {
  private readonly gauges: Record<'epoch' | 'epochs' | 'step' | 'samplesPerS' | 'shardsDone' | 'shardsTotal' | 'workers' | 'nonFinite', Gauge>;
  private readonly optional: Record<'loss' | 'auc' | 'logloss' | 'checkpointAt' | 'checkpointBytes', OptionalGauge>;
  private readonly phase: Gauge<'phase'>;
  private readonly samples: Counter;
  private samplesSeen: number | null = null;
  private readonly leader: Gauge;
  private readonly counters: Record<'psRestored' | 'tablesRestored' | 'mapRepublished', Counter>;
  private readonly checkpointFailures: Counter<'reason'>;
  private readonly checkpointSeconds: Histogram;
  private readonly checkpointInterval: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    const g = (name: string, help: string) => new Gauge({ name, help, registers });
    const opt = (name: string, help: string) => new OptionalGauge(registry, name, help);
    const c = (name: string, help: string) => new Counter({ name, help, registers });
    this.gauges = {
      epoch: g('tessera_job_epoch', 'Epoch in progress, 1-based (as on screen).'),
      epochs: g('tessera_job_epochs', 'Epochs the job trains (the target).'),
      step: g('tessera_job_step', 'Global training steps, summed over workers.'),
      samplesPerS: g('tessera_job_samples_per_second', 'Training throughput of the job.'),
      shardsDone: g('tessera_job_shards_done', 'Data shards finished in this epoch.'),
      shardsTotal: g('tessera_job_shards', 'Data shards per epoch.'),
      workers: g('tessera_job_workers', 'Live workers.'),
      nonFinite: g('tessera_job_nonfinite_stops', 'Data shards of this epoch whose worker stopped on a non-finite (NaN/Inf) loss.'),
    };
    this.optional = {
      loss: opt('tessera_job_loss', 'Mean recent training loss reported by workers (absent before the first report).'),
      auc: opt('tessera_job_eval_auc', 'AUC of the last end-of-epoch evaluation (absent before one).'),
      logloss: opt('tessera_job_eval_logloss', 'LogLoss of the last end-of-epoch evaluation (absent before one).'),
      checkpointAt: opt('tessera_checkpoint_last_success_timestamp_seconds', 'When the last checkpoint was complete, Unix seconds (absent before one).'),
      checkpointBytes: opt('tessera_checkpoint_bytes', 'Bytes of the last checkpoint written.'),
    };
    this.phase = new Gauge({ name: 'tessera_job_phase', help: '1 for the phase the job is in (train, eval, done), else 0.', labelNames: ['phase'], registers });
    this.samples = new Counter({ name: 'tessera_job_samples_total', help: 'Training rows consumed (committed), summed over epochs.', registers });
    this.leader = g('tessera_chief_is_leader', '1 while this chief leads the job.');
    this.counters = {
      psRestored: c('tessera_job_ps_restored_total', 'PS that restarted empty and were restored from the latest checkpoint.'),
      tablesRestored: c('tessera_job_tables_restored_total',
        'PS whose tables were dropped (or dropped and created again) under the running job, restored from the latest checkpoint.'),
      mapRepublished: c('tessera_job_shard_map_republished_total',
        'Times the shard map was published again because a PS served a version the chief had not published.'),
    };
    this.checkpointFailures = new Counter({
      name: 'tessera_job_checkpoint_failures_total', labelNames: ['reason'], registers,
      help: 'Checkpoints and model saves that failed on their directory (reason: the errno, e.g. ENOSPC, EACCES, EROFS).',
    });
    this.checkpointSeconds = new Histogram({
      name: 'tessera_checkpoint_duration_seconds', help: 'Checkpoint time from the start of the cut to the manifest in place.', buckets: CHECKPOINT_DURATION_BUCKETS_S, registers,
    });
    this.checkpointInterval = g('tessera_checkpoint_interval_seconds', 'Seconds between checkpoints while training (0: only at epoch ends).');
  }

  psRestored(psIds: number[]): void {
    this.counters.psRestored.inc(psIds.length);
  }

  tablesRestored(psIds: number[]): void {
    this.counters.tablesRestored.inc(psIds.length);
  }

  mapRepublished(): void {
    this.counters.mapRepublished.inc();
  }

  checkpointFailed(err: TesseraError): void {
    this.checkpointFailures.inc({ reason: diskErrorCode(err) ?? 'other' });
  }

  setLeader(leading: boolean): void {
    this.leader.set(leading ? 1 : 0);
  }

  /** The configured checkpoint interval, seconds. */
  setCheckpointInterval(seconds: number): void {
    this.checkpointInterval.set(seconds);
  }

  /** Records a checkpoint written. */
  onCheckpoint(o: CheckpointOutcome): void {
    this.checkpointSeconds.observe(o.seconds);
    this.optional.checkpointAt.set(o.at / 1000);
    this.optional.checkpointBytes.set(o.bytes);
  }

  onStatus(s: JobStatus): void {
    const g = this.gauges;
    g.epoch.set(s.epoch + 1);
    g.epochs.set(s.epochs);
    for (const p of PHASES) this.phase.labels(p).set(p === s.phase ? 1 : 0);
    g.step.set(s.step);
    // A counter: a chief that takes over starts at the job's total (a reset, to Prometheus).
    if (s.samples > (this.samplesSeen ?? 0)) this.samples.inc(s.samples - (this.samplesSeen ?? 0));
    this.samplesSeen = Math.max(this.samplesSeen ?? 0, s.samples);
    g.samplesPerS.set(s.samplesPerS);
    if (s.loss !== null) this.optional.loss.set(s.loss);
    if (s.lastEval) {
      this.optional.auc.set(s.lastEval.auc);
      this.optional.logloss.set(s.lastEval.logloss);
    }
    g.shardsDone.set(s.shardsDone);
    g.shardsTotal.set(s.shardsTotal);
    g.workers.set(s.workers);
    g.nonFinite.set(s.nonFiniteStops ?? 0);
  }
}
