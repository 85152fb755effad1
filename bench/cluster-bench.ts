/**
 * bench:cluster — `tessera local`'s cluster (its own etcd, 2 PS, a chief, 1 then 2 workers, all
 * separate processes) on the same synthetic data as bench:train, then 2 workers again with
 * `training.data_thread: true` (the A/B of the workers' data thread), then the PyTorch peer
 * (`../shared/peers/torch_deepfm.py`, 2 threads, at the workers' batch size) on the same files,
 * in the same run.
 *
 *   npm run bench:cluster -- --json [--rows 200000] [--epochs 1] [--threads 2] [--two-workers-only]
 *
 * Last line: {"bench":"cluster","samples_per_s_1w","samples_per_s_2w","samples_per_s_2w_thread",
 * "torch_samples_per_s","auc","auc_2w_thread","torch_auc","batch","torch_batch",
 * "samples_per_cpu_s_2w","samples_per_cpu_s_2w_thread","torch_samples_per_cpu_s",...}. samples/s
 * is training rows consumed over the chief's training time (reading, pulls, compute, pushes; not
 * start-up or evaluation), like the peer's own figure. On a shared, loaded machine wall time
 * says little, so each run's CPU time is reported too: the CPU seconds of every process it
 * started (etcd, PS, chief, workers; or the peer), start-up and evaluation included, and the
 * training rows per such CPU second. `cpu_split_*` splits each cluster run's CPU seconds per
 * process (etcd, chief-0, ps-0, ps-1, worker-0, …): `total` for the whole run as last read from
 * /proc before the process ended, `train` for the job's training phase alone.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generate } from '../src/gen/generate';
import { LocalCluster } from '../src/local/local-cluster';
import { parseJobSpec } from '../src/spec/job-spec';
import { runTorchPeer } from './peers/torch-peer';
import { argNum } from './bench-args';
import { TRAIN_BENCH_JOB_YAML } from './bench-job';
import { CLOCK_TICKS_PER_S, ProcessCpuSampler } from './process-cpu';

const num = (x: number | null | undefined): number | null => (x === null || x === undefined || !Number.isFinite(x) ? null : x);

/** CPU seconds of this process's children that have exited and been waited for (cutime + cstime). */
function childCpuSeconds(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').replace(/^.*\) /s, '').split(' ');
  // After "(comm) ", field 3 of proc(5) is index 0: cutime and cstime are fields 16 and 17.
  return (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS_PER_S;
}

/** Runs `f` and returns its result with the CPU seconds of the children it started and reaped. */
async function withChildCpu<T>(f: () => Promise<T>): Promise<T & { cpuS: number }> {
  const before = childCpuSeconds();
  const r = await f();
  return { ...r, cpuS: childCpuSeconds() - before };
}

async function clusterRun(dir: string, name: string, workers: number, jobFile: string, train: string, evalFile: string, epochs: number) {
  const runDir = path.join(dir, `cluster-${name}`);
  mkdirSync(runDir, { recursive: true });
  const r = await withChildCpu(async () => {
    const cluster = await LocalCluster.start({
      runDir, job: `bench-${name}`, specPath: jobFile, ps: 2, workers, data: train, eval: evalFile, epochs, shards: workers * 4, logLevel: 'warn',
    });
    const cpu = new ProcessCpuSampler(cluster);
    try {
      const result = await cluster.waitDone((st) => cpu.sample(st.phase));
      cpu.sample();
      return { ...result, cpuSplit: cpu.split() };
    } finally {
      await cluster.stop();
    }
  });
  process.stderr.write(`cluster 2 PS × ${workers} worker(s) ${name}: ${r.samples} samples at ${r.samples_per_s.toFixed(0)} samples/s, AUC ${r.auc?.toFixed(4)}; `
    + `${r.cpuS.toFixed(1)} CPU s, ${(r.samples / r.cpuS).toFixed(0)} samples per CPU s; CPU s per process ${JSON.stringify(r.cpuSplit.total)}`
    + `, in training ${JSON.stringify(r.cpuSplit.train)}\n`);
  return r;
}

async function main(): Promise<void> {
  const rows = argNum('rows', 200_000);
  const epochs = argNum('epochs', 1);
  const threads = argNum('threads', 2);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tessera-cluster-bench-'));
  try {
    const train = path.join(dir, 'train.tsv');
    const evalFile = path.join(dir, 'eval.tsv');
    const g = await generate({ rows, seed: 7, out: train, evalRows: 20_000, evalOut: evalFile });
    const jobFile = path.join(dir, 'job.yaml');
    // Synchronous pushes within a worker: across workers training is still asynchronous, and
    // measured here it is both faster and closer to the peer's AUC than 2 pushes in flight per
    // worker (2 workers: 7.9k samples/s, AUC 0.7645 against 5.2k, 0.7561).
    const yaml = TRAIN_BENCH_JOB_YAML.replace('name: train-bench', 'name: cluster-bench').replace('max_inflight_pushes: 2', 'max_inflight_pushes: 0');
    writeFileSync(jobFile, yaml);
    const threadJob = path.join(dir, 'job-thread.yaml');
    writeFileSync(threadJob, yaml.replace(/^training:\n/m, 'training:\n  data_thread: true\n'));
    // The peer runs at the workers' batch size, so both sides take the same number of steps.
    const batch = parseJobSpec(yaml, jobFile).training.batchSize;
    if (process.argv.includes('--two-workers-only')) {
      // A/B of the cluster's own CPU per sample (alternate builds): the 2-worker run alone.
      const r = await clusterRun(dir, '2w', 2, jobFile, train, evalFile, epochs);
      process.stdout.write(`${JSON.stringify({ bench: 'cluster', samples_per_s_2w: Math.round(r.samples_per_s), auc: num(r.auc), cpu_s_2w: r.cpuS, cpu_split_2w: r.cpuSplit, rows, batch })}\n`);
      return;
    }
    const one = await clusterRun(dir, '1w', 1, jobFile, train, evalFile, epochs);
    const two = await clusterRun(dir, '2w', 2, jobFile, train, evalFile, epochs);
    const twoThread = await clusterRun(dir, '2w-thread', 2, threadJob, train, evalFile, epochs);
    const torchRun = await withChildCpu(async () => ({ r: await runTorchPeer({ train, test: evalFile, epochs, threads, batch }) }));
    const torch = torchRun.r;
    const peer = 'skipped' in torch ? undefined : torch;
    if (!peer) process.stderr.write(`torch peer skipped: ${(torch as { skipped: string }).skipped}\n`);
    else process.stderr.write(`torch peer (${threads} threads, batch ${batch}): ${peer.samplesPerS.toFixed(0)} samples/s, AUC ${peer.auc.toFixed(4)}`
      + `; ${torchRun.cpuS.toFixed(1)} CPU s → 2-worker cluster is ${(two.samples_per_s / peer.samplesPerS).toFixed(2)}× its throughput`
      + ` (${(twoThread.samples_per_s / peer.samplesPerS).toFixed(2)}× with the data thread)\n`);
    const perCpu = (samples: number, cpuS: number): number | null => (cpuS > 0 ? Math.round(samples / cpuS) : null);
    const torchPerCpu = peer ? perCpu(rows * epochs, torchRun.cpuS) : null;
    const out = {
      bench: 'cluster',
      samples_per_s_1w: Math.round(one.samples_per_s), samples_per_s_2w: Math.round(two.samples_per_s),
      torch_samples_per_s: peer ? Math.round(peer.samplesPerS) : null,
      auc: num(two.auc), auc_1w: num(one.auc), torch_auc: peer ? num(peer.auc) : null,
      ratio_2w_vs_torch: peer ? two.samples_per_s / peer.samplesPerS : null,
      samples_per_s_2w_thread: Math.round(twoThread.samples_per_s), auc_2w_thread: num(twoThread.auc),
      ratio_2w_thread_vs_torch: peer ? twoThread.samples_per_s / peer.samplesPerS : null,
      cpu_s_1w: one.cpuS, cpu_s_2w: two.cpuS, cpu_s_2w_thread: twoThread.cpuS, torch_cpu_s: peer ? torchRun.cpuS : null,
      samples_per_cpu_s_1w: perCpu(one.samples, one.cpuS), samples_per_cpu_s_2w: perCpu(two.samples, two.cpuS),
      samples_per_cpu_s_2w_thread: perCpu(twoThread.samples, twoThread.cpuS), torch_samples_per_cpu_s: torchPerCpu,
      cpu_split_1w: one.cpuSplit, cpu_split_2w: two.cpuSplit, cpu_split_2w_thread: twoThread.cpuSplit,
      oracle_auc: num(g.eval?.oracleAuc), rows, epochs, ps: 2, torch_threads: threads, batch, torch_batch: batch,
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`bench:cluster failed: ${err instanceof Error ? err.stack : err}\n`);
  process.exit(1);
});
