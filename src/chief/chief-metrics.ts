/**
 * Job-level metrics on the chief, fed by its status: tessera_job_epoch, tessera_job_step,
 * tessera_job_samples_total, tessera_job_samples_per_second, tessera_job_loss,
 * tessera_job_eval_auc, tessera_job_eval_logloss, tessera_job_shards_done, tessera_job_workers,
 * tessera_chief_is_leader; and by its recoveries: tessera_job_ps_restored_total,
 * tessera_job_tables_restored_total, tessera_job_shard_map_republished_total,
 * tessera_job_checkpoint_failures_total{reason}.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import { diskErrorCode } from '../common/disk-errors';
import type { TesseraError } from '../common/errors';
import type { JobStatus } from '../control/job-types';
import type { ChiefEvents } from './chief';

export class ChiefMetrics implements ChiefEvents {
  private readonly gauges: Record<string, Gauge>;
  private readonly leader: Gauge;
  private readonly counters: Record<'psRestored' | 'tablesRestored' | 'mapRepublished', Counter>;
  private readonly checkpointFailures: Counter<'reason'>;

  constructor(registry: Registry) {
    const registers = [registry];
    const g = (name: string, help: string) => new Gauge({ name, help, registers });
    const c = (name: string, help: string) => new Counter({ name, help, registers });
    this.gauges = {
      epoch: g('tessera_job_epoch', 'Epoch in progress (0-based).'),
      step: g('tessera_job_step', 'Global training steps, summed over workers.'),
      samples: g('tessera_job_samples_total', 'Training rows consumed (committed), summed over epochs.'),
      samplesPerS: g('tessera_job_samples_per_second', 'Training throughput of the job.'),
      loss: g('tessera_job_loss', 'Mean recent training loss reported by workers.'),
      auc: g('tessera_job_eval_auc', 'AUC of the last end-of-epoch evaluation.'),
      logloss: g('tessera_job_eval_logloss', 'LogLoss of the last end-of-epoch evaluation.'),
      shardsDone: g('tessera_job_shards_done', 'Data shards finished in this epoch.'),
      workers: g('tessera_job_workers', 'Live workers.'),
    };
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

  onStatus(s: JobStatus): void {
    const g = this.gauges;
    g.epoch.set(s.epoch);
    g.step.set(s.step);
    g.samples.set(s.samples);
    g.samplesPerS.set(s.samplesPerS);
    if (s.loss !== null) g.loss.set(s.loss);
    if (s.lastEval) {
      g.auc.set(s.lastEval.auc);
      g.logloss.set(s.lastEval.logloss);
    }
    g.shardsDone.set(s.shardsDone);
    g.workers.set(s.workers);
  }
}
