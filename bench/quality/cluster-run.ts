/**
 * One `tessera local` cluster run for bench:quality's cost of asynchrony: its own etcd, 2 PS, a
 * chief and M workers, each a separate OS process, trained on a split and evaluated by the chief
 * on the validation rows.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { LocalCluster } from '../../src/local/local-cluster';
import { jobSpecToYaml } from '../../src/spec/job-spec';
import type { JobSpec } from '../../src/spec/types';

/** Data shards per worker (what `tessera local` hands out by default). */
const SHARDS_PER_WORKER = 4;

/** Trains `spec` on `workers` worker processes; resolves with the chief's validation figures. */
export async function clusterRun(spec: JobSpec, workers: number, train: string, valid: string, work: string): Promise<{ auc: number; logloss: number }> {
  const runDir = path.join(work, `cluster-${spec.name}-${workers}w-s${spec.training.seed}`);
  mkdirSync(runDir, { recursive: true });
  const specPath = path.join(runDir, 'job.yaml');
  writeFileSync(specPath, jobSpecToYaml(spec));
  const cluster = await LocalCluster.start({
    runDir, job: `quality-${workers}w-s${spec.training.seed}`, specPath, ps: 2, workers, data: train, eval: valid,
    shards: workers * SHARDS_PER_WORKER, logLevel: 'warn',
  });
  try {
    const r = await cluster.waitDone();
    if (r.auc === null || r.logloss === null) throw new Error(`cluster run in ${runDir} finished without an evaluation`);
    return { auc: r.auc, logloss: r.logloss };
  } finally {
    await cluster.stop();
  }
}
