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
import { LocalCluster, LocalClusterOptions } from '../../src/local/local-cluster';
import { requireEtcd } from './etcd';

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

/** The log lines (parsed) of every process whose log file starts with `role`. */
export { logLines } from './cluster-ledger';

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

/** A suite of LocalCluster runs on one synthetic data set (see clusterSuite). */
export interface ClusterSuite {
  /** The suite's data, written in before(). */
  readonly data: { dir: string; train: string; evalFile: string };
  /** Starts a cluster on the suite's data in a new run dir; stopped after the test. */
  start(extra?: Partial<LocalClusterOptions>): Promise<LocalCluster>;
}

/**
 * Registers the hooks of a suite of cluster runs: etcd required and `rows` synthetic rows written
 * before, the test's cluster stopped after each test, the data removed after all (kept, with the
 * logs, when a test failed). `defaults(seq)` gives each run's options (job name, shape).
 */
export function clusterSuite(rows: number, defaults: (seq: number) => Omit<LocalClusterOptions, 'runDir'>): ClusterSuite {
  let data: ClusterSuite['data'] | undefined;
  let cluster: LocalCluster | undefined;
  let seq = 0;
  let keep = false;
  before(async function () {
    requireEtcd(this);
    data = await syntheticData(rows);
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') keep = true; // leave the logs for the failure report
    await cluster?.stop();
    cluster = undefined;
  });
  after(() => data && !keep && fs.rmSync(data.dir, { recursive: true, force: true }));
  return {
    get data() { return data!; },
    async start(extra = {}) {
      const runDir = path.join(data!.dir, `run-${++seq}`);
      fs.mkdirSync(runDir);
      cluster = await LocalCluster.start({ ...defaults(seq), runDir, ...extra });
      return cluster;
    },
  };
}
