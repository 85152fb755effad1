/**
 * Job-level metrics on the chief, fed by its status: tessera_job_epoch, tessera_job_step,
 * tessera_job_samples_total, tessera_job_samples_per_second, tessera_job_loss,
 * tessera_job_eval_auc, tessera_job_eval_logloss, tessera_job_shards_done, tessera_job_workers,
 * tessera_chief_is_leader.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { JobStatus } from '../control/job-types';

export class ChiefMetrics {
  private readonly gauges: Record<string, Gauge>;
  private readonly leader: Gauge;
  private readonly psRestored: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    const g = (name: string, help: string) => new Gauge({ name, help, registers });
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
    this.psRestored = new Counter({ name: 'tessera_job_ps_restored_total', help: 'PS that restarted empty and were restored from the latest checkpoint.', registers });
  }

  onPsRestored(n: number): void {
    this.psRestored.inc(n);
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
