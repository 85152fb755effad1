/**
 * A whole Tessera cluster on this machine, as separate OS processes: its own etcd (unless one is
 * given), N PS, M workers and a chief, each logging to a file in the run directory. What
 * `tessera local`, the cluster benchmark and the multi-process tests start.
 *
 * ```ts
 * const cluster = await LocalCluster.start({ runDir, job: 'demo', specPath, ps: 2, workers: 2, data, eval });
 * const result = await cluster.waitDone((status) => progress.update(format(status)));
 * await cluster.stop();
 * ```
 */
import { createEtcdClient } from '../runtime/etcd-client';
import * as path from 'node:path';
import type { Etcd3 } from 'etcd3';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { silentLogger } from '../common/logger';
import { EtcdProcess, launchEtcd } from '../common/etcd-launcher';
import { Signal } from '../common/signal';
import { EtcdJobStore } from '../control/etcd-job-store';
import { EtcdMembership } from '../membership/etcd-membership';
import type { Member } from '../membership/membership';
import type { JobResult, JobStatus } from '../control/job-types';
import { spawnPs, PsProcess } from './ps-process';
import { Child, spawnTessera } from './child';
import { METRICS_LOG_FILE, MetricsLog, ScrapeTargets } from './run-records';

export interface LocalClusterOptions {
  runDir: string;
  job: string;
  specPath: string;
  ps: number;
  workers: number;
  /** Training data (not needed to resume: the checkpoint holds the data plan). */
  data?: string;
  eval?: string;
  epochs?: number;
  shards?: number;
  /** Checkpoint root: consistent checkpoints DIR/<id>, and the model DIR/model. */
  checkpointDir?: string;
  /** Seconds between checkpoints while training (0: epoch ends and the job end). */
  checkpointEvery?: number;
  /** Resume from this checkpoint (latest | ID | DIR/ID). */
  resume?: string;
  /** Warm start from this checkpoint. */
  initFrom?: string;
  /** Use this etcd instead of starting one. */
  etcdUrl?: string;
  leaseTtlS?: number;
  backend?: string;
  /** Kernel threads of each worker's (and the chief's) wasm backend: TESSERA_TF_THREADS. */
  tfThreads?: number;
  commitEveryMs?: number;
  force?: boolean;
  logLevel?: string;
  /** Extra environment for every child. */
  env?: NodeJS.ProcessEnv;
}

export class LocalCluster {
  readonly ps: PsProcess[] = [];
  readonly workers: Child[] = [];
  readonly chiefs: Child[] = [];
  private readonly client: Etcd3;
  private stopped = false;
  /** RUN_DIR/prometheus-targets.json, kept current from etcd membership. */
  scrapeTargets: ScrapeTargets | null = null;
  private stopTargets: () => Promise<void> = async () => undefined;
  private readonly metricsLog: MetricsLog;

  private constructor(readonly opts: LocalClusterOptions, readonly etcdUrl: string, readonly etcd: EtcdProcess | null) {
    this.client = createEtcdClient(etcdUrl);
    this.metricsLog = new MetricsLog(path.join(opts.runDir, METRICS_LOG_FILE));
  }

  /** Starts etcd (unless given), the PS (waiting until each listens), one chief and the workers. */
  static async start(opts: LocalClusterOptions): Promise<LocalCluster> {
    const etcd = opts.etcdUrl ? null : await launchEtcd({ dataDir: path.join(opts.runDir, 'etcd-data'), keepData: true });
    const cluster = new LocalCluster(opts, opts.etcdUrl ?? etcd!.url, etcd);
    try {
      const watched = await ScrapeTargets.start(cluster.membership(), opts.runDir);
      cluster.scrapeTargets = watched.targets;
      cluster.stopTargets = watched.stop;
      for (let i = 0; i < opts.ps; i++) cluster.ps.push(await cluster.startPs(i));
      cluster.startChief('chief-0');
      for (let i = 0; i < opts.workers; i++) cluster.startWorker(i);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  private common(): string[] {
    const o = this.opts;
    return ['--etcd', this.etcdUrl, '--job', o.job, '--lease-ttl', String(o.leaseTtlS ?? 5), ...(o.logLevel ? ['--log-level', o.logLevel] : [])];
  }

  private env(): NodeJS.ProcessEnv {
    const o = this.opts;
    return {
      ...o.env,
      ...(o.backend ? { TESSERA_TF_BACKEND: o.backend } : {}),
      ...(o.tfThreads !== undefined ? { TESSERA_TF_THREADS: String(o.tfThreads) } : {}),
    };
  }

  /** Starts PS `ps-<i>` (again, after a kill: same id, new incarnation). */
  async startPs(i: number): Promise<PsProcess> {
    const args = ['--id', `ps-${i}`, '--etcd', this.etcdUrl, '--job', this.opts.job, '--lease-ttl', String(this.opts.leaseTtlS ?? 5),
      // Each PS's own disk tier for tables with eviction.spill (opened only by such a table).
      '--tier-dir', path.join(this.opts.runDir, 'tier', `ps-${i}`)];
    // A restarted PS comes back on its old port, as a StatefulSet pod keeps its DNS name.
    const port = this.psPorts.get(i);
    if (port !== undefined) args.push('--port', String(port));
    const roots = this.checkpointRoots();
    if (roots.length > 0) args.push('--checkpoint-root', roots.join(','));
    const ps = await spawnPs({ args, logFile: path.join(this.opts.runDir, `ps-${i}.log`), env: this.env() });
    this.psPorts.set(i, Number(ps.addr.slice(ps.addr.lastIndexOf(':') + 1)));
    return ps;
  }

  private readonly psPorts = new Map<number, number>();

  /**
   * Where the PS may snapshot and restore: the checkpoint dir, and the directory holding a
   * `--resume`/`--init-from` checkpoint given as a path (DIR/ID, or a root DIR).
   */
  private checkpointRoots(): string[] {
    const o = this.opts;
    const from = [o.resume, o.initFrom].filter((r): r is string => !!r && r.includes(path.sep)).map((r) => path.dirname(path.resolve(r)));
    return [...new Set([...(o.checkpointDir ? [path.resolve(o.checkpointDir)] : []), ...from])];
  }

  /** Starts one more chief candidate (a standby if another leads). */
  startChief(id: string): Child {
    const o = this.opts;
    const args = ['chief', ...this.common(), '--id', id, '--ps', String(o.ps), '--json'];
    // Resuming takes the spec saved in the checkpoint unless one is given.
    if (!o.resume || o.specPath) args.push('--spec', o.specPath);
    if (o.data) args.push('--data', o.data);
    if (o.resume) args.push('--resume', o.resume);
    if (o.initFrom) args.push('--init-from', o.initFrom);
    if (o.checkpointEvery !== undefined) args.push('--checkpoint-every', String(o.checkpointEvery));
    if (o.eval) args.push('--eval', o.eval);
    if (o.epochs !== undefined) args.push('--epochs', String(o.epochs));
    if (o.shards !== undefined) args.push('--shards', String(o.shards));
    if (o.checkpointDir) args.push('--checkpoint-dir', o.checkpointDir);
    if (o.force) args.push('--force');
    const child = spawnTessera(id, args, path.join(o.runDir, `${id}.log`), this.env());
    this.chiefs.push(child);
    return child;
  }

  /** Starts worker `worker-<i>` (again, after a kill: same id, new incarnation). */
  startWorker(i: number): Child {
    const args = ['worker', ...this.common(), '--id', `worker-${i}`];
    if (this.opts.commitEveryMs !== undefined) args.push('--commit-every-ms', String(this.opts.commitEveryMs));
    const child = spawnTessera(`worker-${i}`, args, path.join(this.opts.runDir, `worker-${i}.log`), this.env());
    this.workers[i] = child;
    return child;
  }

  /** Live members of the job (from etcd). */
  members(): Promise<Member[]> {
    return this.membership().list();
  }

  /** The URL of the chief's training page (its metrics port), once a chief serves one. */
  async pageUrl(): Promise<string> {
    const chief = await this.scrapeTargets!.member('chief');
    return `http://${chief.metrics}/`;
  }

  private membership(): EtcdMembership {
    return new EtcdMembership({ client: this.client, job: this.opts.job, logger: silentLogger() });
  }

  /** The chief's latest status, if it has written one. */
  status(): Promise<JobStatus | undefined> {
    return new EtcdJobStore({ client: this.client, job: this.opts.job, logger: silentLogger() }).status();
  }

  /**
   * Resolves with the job's result once the chief reports it done. Rejects when the job can no
   * longer finish: every chief, every worker, or any PS exited without being stopped.
   */
  async waitDone(onStatus?: (s: JobStatus) => void, pollMs = 250): Promise<JobResult> {
    const wake = new Signal();
    const exits = [...this.chiefs, ...this.workers, ...this.ps.map((p) => ({ exited: p.proc.exitCode !== null ? Promise.resolve(p.proc.exitCode) : new Promise((r) => p.proc.once('exit', r)) }))];
    for (const e of exits) void e.exited.then(() => wake.notify());
    let etcdErrors = 0;
    for (;;) {
      let s: JobStatus | undefined;
      try {
        s = await this.status();
        etcdErrors = 0;
      } catch (err) {
        if (++etcdErrors === 1) process.emitWarning(`tessera local: cannot read the job status from etcd (${(err as Error).message.split('\n')[0]}); retrying`);
      }
      if (s) {
        this.metricsLog.onStatus(s);
        onStatus?.(s);
      }
      if (s?.phase === 'done' && s.result) return s.result;
      const dead = this.deadReason();
      if (dead) throw new TesseraError(ERROR_CODES.UNAVAILABLE, `${dead}; logs in ${this.opts.runDir}`);
      await wake.wait(pollMs);
    }
  }

  private deadReason(): string | undefined {
    const gone = (c: Child) => !c.running && c.proc.exitCode !== 0;
    if (this.chiefs.length > 0 && this.chiefs.every((c) => !c.running)) {
      const codes = this.chiefs.map((c) => `${c.name} exited with ${c.proc.exitCode ?? c.proc.signalCode}`).join(', ');
      return `no chief is running (${codes})`;
    }
    if (this.workers.length > 0 && this.workers.every(gone)) return 'every worker exited before the job was done';
    const psDown = this.ps.find((p) => p.proc.exitCode !== null || p.proc.signalCode !== null);
    if (psDown && !this.psRestarting) return `parameter server ${this.ps.indexOf(psDown)} exited`;
    return undefined;
  }

  /** Set by fault tests while they restart a PS on purpose. */
  psRestarting = false;

  /** Stops every child (SIGTERM, workers and chiefs first), then etcd if it was started here. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all([...this.workers, ...this.chiefs].map((c) => c.stop()));
    await Promise.all(this.ps.map((p) => (p.proc.exitCode === null && p.proc.signalCode === null ? p.stop() : Promise.resolve(null))));
    await this.stopTargets().catch(() => undefined);
    this.client.close();
    await this.etcd?.stop();
  }
}
