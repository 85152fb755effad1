/**
 * One Tessera training run for bench:quality: a job spec trained on a train file and scored on a
 * validation file after every epoch, against two PS shards served over real gRPC (port 0) in this
 * process, as `tessera train` runs them. Runs share the process (and its tfjs backend), so a
 * search of many settings pays the start-up once.
 */
import { PsClient } from '../../src/client/ps-client';
import { silentLogger } from '../../src/common/logger';
import { RowReader } from '../../src/data/reader';
import { schemaFor } from '../../src/data/record';
import { startPsServer } from '../../src/ps/ps-server';
import { planShardMap } from '../../src/sharding/shard-map';
import type { JobSpec } from '../../src/spec/types';
import { buildJob } from '../../src/worker/job';
import { psParams } from '../../src/worker/ps-params';

/** PS shards of a bench run (what `tessera train` starts in-process). */
const PS_SHARDS = 2;
/** Rows per evaluation batch. */
const EVAL_BATCH = 4096;

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
  /** One entry per epoch trained. */
  epochs: EpochScore[];
}

/**
 * Trains `spec` on `train` for `spec.training.epochs` epochs, scoring `evalFile` after each.
 *
 * ```ts
 * const r = await trainRun(spec, 'train.tsv', 'valid.tsv');
 * console.log(r.auc, r.epochs.map((e) => e.auc));
 * ```
 */
export async function trainRun(spec: JobSpec, train: string, evalFile: string): Promise<RunResult> {
  const logger = silentLogger();
  const servers = await Promise.all(Array.from({ length: PS_SHARDS },
    () => startPsServer({ port: 0, maxRequestBytes: 64 << 20, logger })));
  const client = new PsClient({
    shardMap: planShardMap(servers.map((s, id) => ({ id, addr: s.addr }))), logger, maxInflightPushes: spec.training.maxInflightPushes,
  });
  try {
    await client.admin.installShardMap();
    const { trainer } = buildJob(spec, psParams(client), logger);
    await trainer.init();
    const reader = (file: string): RowReader => new RowReader(file, schemaFor(spec.data.format), { maxErrorRate: spec.data.maxErrorRate });
    const epochs: EpochScore[] = [];
    let samples = 0;
    let trainSeconds = 0;
    let rows = 0;
    for (let e = 0; e < spec.training.epochs; e++) {
      const t0 = performance.now();
      samples += (await trainer.trainEpoch(reader(train).batches(spec.training.batchSize))).samples;
      trainSeconds += (performance.now() - t0) / 1000;
      const r = await trainer.evaluate(reader(evalFile).batches(EVAL_BATCH));
      epochs.push({ auc: r.auc, logloss: r.logloss });
      rows = r.rows;
    }
    const last = epochs[epochs.length - 1];
    return { auc: last.auc, logloss: last.logloss, rows, samples, trainSeconds, epochs };
  } finally {
    client.close();
    await Promise.all(servers.map((s) => s.stop()));
  }
}
