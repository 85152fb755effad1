/**
 * Helpers for tests that run a LocalCluster (real etcd, real processes): synthetic data, reading
 * the control records, and awaiting a condition on them.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createEtcdClient } from '../../src/runtime/etcd-client';
import { silentLogger } from '../../src/common/logger';
import { EtcdJobStore } from '../../src/control/etcd-job-store';
import type { JobSnapshot } from '../../src/control/job-store';
import type { DataShard } from '../../src/control/job-types';
import { RowReader } from '../../src/data/reader';
import { schemaFor } from '../../src/data/record';
import { generate } from '../../src/gen/generate';
import { LocalCluster } from '../../src/local/local-cluster';

export const ROOT = path.resolve(__dirname, '..', '..', __dirname.includes(`${path.sep}dist${path.sep}`) ? '..' : '');
export const SYNTHETIC_SPEC = path.join(ROOT, 'examples', 'synthetic-deepfm.yaml');

export async function syntheticData(rows: number): Promise<{ dir: string; train: string; evalFile: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-cluster-'));
  const train = path.join(dir, 'train.tsv');
  const evalFile = path.join(dir, 'eval.tsv');
  await generate({ rows, seed: 3, vocab: 100_000, zipf: 1.1, out: train, evalRows: 2_000, evalOut: evalFile });
  return { dir, train, evalFile };
}

/** The job's control records, read through a fresh client. */
export async function snapshotOf(cluster: LocalCluster): Promise<JobSnapshot> {
  const client = createEtcdClient(cluster.etcdUrl);
  try {
    return await new EtcdJobStore({ client, job: cluster.opts.job, logger: silentLogger() }).snapshot();
  } finally {
    client.close();
  }
}

/**
 * Re-reads the control records until `pick` returns a value. The poll only re-checks a condition
 * the cluster moves towards; the timeout turns a hang into a readable failure.
 */
export async function awaitSnapshot<T>(cluster: LocalCluster, pick: (s: JobSnapshot) => T | undefined, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: JobSnapshot | undefined;
  while (Date.now() < deadline) {
    try {
      last = await snapshotOf(cluster);
      const v = pick(last);
      if (v !== undefined) return v;
    } catch {
      // etcd may be restarting in fault tests; read again
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}; last state ${JSON.stringify(last?.state?.phase)}; logs in ${cluster.opts.runDir}`);
}

/** Rows in a shard's byte range, counted by an independent reader. */
export async function rowsInShard(s: DataShard): Promise<number> {
  let n = 0;
  for await (const b of new RowReader(s.path, schemaFor('criteo'), { range: { start: s.start, end: s.end }, maxErrorRate: 0 }).batches(4096)) n += b.length;
  return n;
}

/** Asserts-ready summary: per shard, committed rows vs rows in the range. */
export async function shardLedger(snap: JobSnapshot): Promise<{ shard: number; committed: number; actual: number; done: boolean; worker: string }[]> {
  return Promise.all(snap.state!.shards.map(async (s) => {
    const p = snap.progress.get(s.id);
    return { shard: s.id, committed: p?.rows ?? 0, actual: await rowsInShard(s), done: p?.done ?? false, worker: p?.worker ?? '' };
  }));
}
