/**
 * One Tessera training run for bench:quality: a job spec trained on a train file and scored on a
 * validation file after every epoch, against two PS shards served over real gRPC (port 0) in this
 * process, as `tessera train` runs them. Runs share the process (and its tfjs backend), so a
 * search of many settings pays the start-up once.
 */
import { PsClient } from '../../src/client/ps-client';
import { silentLogger } from '../../src/common/logger';
import { startPsServer } from '../../src/ps/ps-server';
import { planShardMap } from '../../src/sharding/shard-map';
import type { JobSpec } from '../../src/spec/types';
import { overrideSpec } from '../../src/spec/overrides';
import { trainEpochs } from '../../src/worker/epoch-loop';
import { buildJob } from '../../src/worker/job';
import { psParams } from '../../src/worker/ps-params';

/** PS shards of a bench run (what `tessera train` starts in-process). */
const PS_SHARDS = 2;

/** The validation figures after one epoch. */
export interface EpochScore {
  auc: number;
  logloss: number;
}

/** What one run measured. */
export interface RunResult {
  /** Figures after the last epoch trained. */
  auc: number;
  logloss: number;
  /** Validation rows scored. */
  rows: number;
  /** Training rows consumed, all epochs. */
  samples: number;
  /** Training wall time (reading, pulls, compute, pushes), seconds. */
  trainSeconds: number;
  /** One entry per epoch trained (fewer than `training.epochs` after an early stop). */
  epochs: EpochScore[];
}

/**
 * Trains `spec` on `train`, scoring `evalFile` after every epoch, for `spec.training.epochs`
 * epochs or fewer when its `training.early_stop` ends the run (the loop of `tessera train`).
 *
 * ```ts
 * const r = await trainRun(spec, 'train.tsv', 'valid.tsv');
 * console.log(r.auc, r.epochs.map((e) => e.auc));
 * ```
 */
export async function trainRun(spec: JobSpec, train: string, evalFile: string): Promise<RunResult> {
  const logger = silentLogger();
  const job = overrideSpec(spec, { train, eval: evalFile });
  const servers = await Promise.all(Array.from({ length: PS_SHARDS },
    () => startPsServer({ port: 0, maxRequestBytes: 64 << 20, logger })));
  const client = new PsClient({
    shardMap: planShardMap(servers.map((s, id) => ({ id, addr: s.addr }))), logger, maxInflightPushes: job.training.maxInflightPushes,
  });
  try {
    await client.admin.installShardMap();
    const { trainer } = buildJob(job, psParams(client), logger);
    await trainer.init();
    const run = await trainEpochs(trainer, job);
    const last = run.evals[run.evals.length - 1];
    return {
      auc: last.auc, logloss: last.logloss, rows: last.rows, samples: run.samples, trainSeconds: run.trainSeconds,
      epochs: run.evals.map((e) => ({ auc: e.auc, logloss: e.logloss })),
    };
  } finally {
    client.close();
    await Promise.all(servers.map((s) => s.stop()));
  }
}
