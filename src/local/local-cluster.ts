/**
 * A whole Tessera cluster on this machine, as separate OS processes: its own etcd (unless one is
 * given), N PS, M workers and one or more chiefs, each logging to a file in the run directory.
 * What `tessera local`, the cluster benchmark and the multi-process tests start.
 *
 * It supervises them as Kubernetes would: a PS that dies is started again under its id and port
 * (a StatefulSet pod), a worker or chief that fails is started again (a Job's or Deployment's
 * pod), each after a backoff (restart-policy.ts), once etcd has let go of the dead one's id. Each
 * restart is reported through `onEvent`. A process that keeps failing right after it starts is
 * given up, and the run fails with its last log line; so does a job the chief failed.
 *
 * ```ts
 * const cluster = await LocalCluster.start({ runDir, job: 'demo', specPath, ps: 2, workers: 2, data, eval });
 * const result = await cluster.waitDone((status) => progress.update(format(status)));
 * await cluster.stop();
 * ```
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Etcd3 } from 'etcd3';
import { createEtcdClient } from '../runtime/etcd-client';
import { silentLogger } from '../common/logger';
import { EtcdProcess, launchEtcd } from '../common/etcd-launcher';
import type { Role } from '../common/roles';
import { Signal } from '../common/signal';
import { EtcdJobStore } from '../control/etcd-job-store';
import { EtcdMembership } from '../membership/etcd-membership';
import type { Member } from '../membership/membership';
import { failureExitCode, JobResult, JobStatus } from '../control/job-types';
import { spawnPs, PsProcess } from './ps-process';
import { Child, spawnTessera } from './child';
import { METRICS_LOG_FILE, MetricsLog, ScrapeTargets } from './run-records';
import { DEFAULT_RESTART_POLICY, reasonFromLog, RestartBackoff, RestartPolicy } from './restart-policy';

export interface LocalClusterOptions {
  runDir: string;
  job: string;
  specPath: string;
  /** PS processes. */
  ps: number;
  /** Shard servers in each PS process (`tessera ps --shards`, default 1): the shard map holds ps × psShards PS. */
  psShards?: number;
  workers: number;
  /** Training data (not needed to resume: the checkpoint holds the data plan). */
  data?: string;
  eval?: string;
  epochs?: number;
  shards?: number;
  /** With a stream source (`data` redis-stream://…): its partitions (`tessera chief --partitions`). */
  partitions?: number;
  /** With a stream source: seconds between evaluations on its held-out partition (`tessera chief --eval-every`). */
  evalEvery?: number;
  /** Checkpoint root: consistent checkpoints DIR/<id>, and the model DIR/model. */
  checkpointDir?: string;
  /** Seconds between checkpoints while training (0: epoch ends and the job end). */
  checkpointEvery?: number;
  /** Model root the chief publishes versions into (`tessera chief --export-dir`). */
  exportDir?: string;
  /** Seconds between deltas to serving (`tessera chief --delta-every`; 0 or absent: none). */
  deltaEvery?: number;
  /** A full model version after this many deltas (`tessera chief --full-every`). */
  fullEvery?: number;
  /** Resume from this checkpoint (latest | ID | DIR/ID). */
  resume?: string;
  /** Warm start from this checkpoint. */
  initFrom?: string;
  /** Use this etcd instead of starting one. */
  etcdUrl?: string;
  /**
   * Mutual TLS everywhere: a directory made by `tessera certs init` (ca.crt, <process id>.crt/.key,
   * admin, etcd-server). Each process gets its own certificate; the etcd started here requires
   * client certificates (--client-cert-auth) and peer TLS.
   */
  tlsDir?: string;
  leaseTtlS?: number;
  backend?: string;
  /** Kernel threads of each worker's (and the chief's) wasm backend: TESSERA_TF_THREADS. */
  tfThreads?: number;
  commitEveryMs?: number;
  force?: boolean;
  logLevel?: string;
  /** Extra environment for every child. */
  env?: NodeJS.ProcessEnv;
  /** Chief candidates (chief-0 … chief-<n-1>); one leads, the others stand by. Default 1. */
  chiefs?: number;
  /** Restart processes that die (default true); false: a death ends the run as before. */
  supervise?: boolean;
  restartPolicy?: RestartPolicy;
  /** A checkpoint that fails on a disk error: `fail` the job (default) or `continue` (--on-checkpoint-error). */
  onCheckpointError?: string;
  /** One line per supervision event ("ps-1 exited (killed by SIGKILL); restart #1 in 1.0 s"). */
  onEvent?: (line: string) => void;
}

/** The run cannot finish: the job failed, or a process was given up. */
export class ClusterFailedError extends Error {
  constructor(readonly exitCode: 1 | 2, message: string) {
    super(message);
    this.name = 'ClusterFailedError';
  }
}

/** One supervised process slot; the process in it is replaced on each restart. */
interface Slot {
  name: string;
  role: Role;
  logFile: string;
  backoff: RestartBackoff;
  startedAt: number;
  /** Set once the process has exited unasked (any later run is a restart). */
  restarted?: boolean;
}

/** Bytes read from the end of a log for the reason a process ended. */
const LOG_TAIL_BYTES = 16 << 10;

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
  private readonly stopping = new AbortController();
  private readonly wake = new Signal();
  /** Set when a process was given up: the run fails with it. */
  private gaveUp: { exitCode: 1 | 2; message: string } | undefined;
  private readonly psPorts = new Map<number, number>();

  private constructor(readonly opts: LocalClusterOptions, readonly etcdUrl: string, readonly etcd: EtcdProcess | null) {
    const t = opts.tlsDir;
    this.client = createEtcdClient(etcdUrl, t ? { credentials: { ca: path.join(t, 'ca.crt'), cert: path.join(t, 'admin.crt'), key: path.join(t, 'admin.key') } } : {});
    this.metricsLog = new MetricsLog(path.join(opts.runDir, METRICS_LOG_FILE));
  }

  /** Starts etcd (unless given), the PS (waiting until each listens), the chiefs and the workers. */
  static async start(opts: LocalClusterOptions): Promise<LocalCluster> {
    const t = opts.tlsDir;
    const tls = t ? {
      serverCert: path.join(t, 'etcd-server.crt'), serverKey: path.join(t, 'etcd-server.key'), ca: path.join(t, 'ca.crt'),
      clientCert: path.join(t, 'admin.crt'), clientKey: path.join(t, 'admin.key'),
    } : undefined;
    const etcd = opts.etcdUrl ? null : await launchEtcd({ dataDir: path.join(opts.runDir, 'etcd-data'), keepData: true, tls });
    const cluster = new LocalCluster(opts, opts.etcdUrl ?? etcd!.url, etcd);
    try {
      const watched = await ScrapeTargets.start(cluster.membership(), opts.runDir);
      cluster.scrapeTargets = watched.targets;
      cluster.stopTargets = watched.stop;
      for (let i = 0; i < opts.ps; i++) await cluster.startPs(i);
      for (let i = 0; i < (opts.chiefs ?? 1); i++) cluster.startChief(`chief-${i}`);
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

  /** The environment of process `name` (ps-0, chief-0, worker-1): its own certificate with --tls. */
  private env(name: string): NodeJS.ProcessEnv {
    const o = this.opts;
    const t = o.tlsDir;
    return {
      ...o.env,
      ...(t ? { TESSERA_TLS_CERT: path.join(t, `${name}.crt`), TESSERA_TLS_KEY: path.join(t, `${name}.key`), TESSERA_TLS_CA: path.join(t, 'ca.crt') } : {}),
      ...(o.backend ? { TESSERA_TF_BACKEND: o.backend } : {}),
      ...(o.tfThreads !== undefined ? { TESSERA_TF_THREADS: String(o.tfThreads) } : {}),
    };
  }

  /**
   * Starts PS process `ps-<i>` (supervised: restarted under the same id when it dies, and on the
   * same port with one shard; with several, its shards take fresh ports and the chief republishes
   * their addresses, since the ports next to its first may have been taken meanwhile).
   */
  async startPs(i: number): Promise<PsProcess> {
    const spawn = async (): Promise<ChildProcess> => {
      const args = ['--id', `ps-${i}`, '--etcd', this.etcdUrl, '--job', this.opts.job, '--lease-ttl', String(this.opts.leaseTtlS ?? 5),
        // Each PS's own disk tier for tables with eviction.spill (opened only by such a table).
        '--tier-dir', path.join(this.opts.runDir, 'tier', `ps-${i}`)];
      // A restarted PS comes back on its old port, as a StatefulSet pod keeps its DNS name.
      const port = this.psPorts.get(i);
      const shards = this.opts.psShards ?? 1;
      if (port !== undefined && shards === 1) args.push('--port', String(port));
      const roots = this.checkpointRoots();
      if (roots.length > 0) args.push('--checkpoint-root', roots.join(','));
      const ps = await spawnPs({ args, shards, logFile: path.join(this.opts.runDir, `ps-${i}.log`), env: this.env(`ps-${i}`) });
      this.psPorts.set(i, Number(ps.addr.slice(ps.addr.lastIndexOf(':') + 1)));
      this.ps[i] = ps;
      return ps.proc;
    };
    this.supervise(this.slot(`ps-${i}`, 'ps'), await spawn(), spawn);
    return this.ps[i];
  }

  /**
   * Where the PS may snapshot and restore: the checkpoint dir, and the directory holding a
   * `--resume`/`--init-from` checkpoint given as a path (DIR/ID, or a root DIR).
   */
  private checkpointRoots(): string[] {
    const o = this.opts;
    const from = [o.resume, o.initFrom].filter((r): r is string => !!r && r.includes(path.sep)).map((r) => path.dirname(path.resolve(r)));
    return [...new Set([...(o.checkpointDir ? [path.resolve(o.checkpointDir)] : []), ...from])];
  }

  /** Starts one more chief candidate (a standby if another leads); supervised. */
  startChief(id: string): Child {
    const o = this.opts;
    const args = ['chief', ...this.common(), '--id', id, '--ps', String(o.ps * (o.psShards ?? 1)), '--json'];
    // Resuming takes the spec saved in the checkpoint unless one is given.
    if (!o.resume || o.specPath) args.push('--spec', o.specPath);
    if (o.data) args.push('--data', o.data);
    if (o.resume) args.push('--resume', o.resume);
    if (o.initFrom) args.push('--init-from', o.initFrom);
    if (o.checkpointEvery !== undefined) args.push('--checkpoint-every', String(o.checkpointEvery));
    if (o.eval) args.push('--eval', o.eval);
    if (o.epochs !== undefined) args.push('--epochs', String(o.epochs));
    if (o.shards !== undefined) args.push('--shards', String(o.shards));
    if (o.partitions !== undefined) args.push('--partitions', String(o.partitions));
    if (o.evalEvery !== undefined) args.push('--eval-every', String(o.evalEvery));
    if (o.checkpointDir) args.push('--checkpoint-dir', o.checkpointDir);
    if (o.exportDir) args.push('--export-dir', o.exportDir);
    if (o.deltaEvery) args.push('--delta-every', String(o.deltaEvery), ...(o.fullEvery ? ['--full-every', String(o.fullEvery)] : []));
    if (o.onCheckpointError) args.push('--on-checkpoint-error', o.onCheckpointError);
    if (o.force) args.push('--force');
    const at = this.chiefs.length;
    const spawn = async (): Promise<ChildProcess> => {
      const child = spawnTessera(id, args, path.join(o.runDir, `${id}.log`), this.env(id));
      this.chiefs[at] = child;
      return child.proc;
    };
    void spawn().then((proc) => this.supervise(this.slot(id, 'chief'), proc, spawn));
    return this.chiefs[at];
  }

  /** Starts worker `worker-<i>`; supervised (restarted, new incarnation, when it fails). */
  startWorker(i: number): Child {
    const args = ['worker', ...this.common(), '--id', `worker-${i}`];
    if (this.opts.commitEveryMs !== undefined) args.push('--commit-every-ms', String(this.opts.commitEveryMs));
    const spawn = async (): Promise<ChildProcess> => {
      const child = spawnTessera(`worker-${i}`, args, path.join(this.opts.runDir, `worker-${i}.log`), this.env(`worker-${i}`));
      this.workers[i] = child;
      return child.proc;
    };
    void spawn().then((proc) => this.supervise(this.slot(`worker-${i}`, 'worker'), proc, spawn));
    return this.workers[i];
  }

  private slot(name: string, role: Role): Slot {
    return { name, role, logFile: path.join(this.opts.runDir, `${name}.log`), backoff: new RestartBackoff(this.opts.restartPolicy ?? DEFAULT_RESTART_POLICY), startedAt: Date.now() };
  }

  /** Watches `proc` in `slot`; when it dies unasked, restarts it through `spawn` (or gives it up). */
  private supervise(slot: Slot, proc: ChildProcess, spawn: () => Promise<ChildProcess>): void {
    slot.startedAt = Date.now();
    proc.once('exit', (code, signal) => {
      this.wake.notify();
      void this.restart(slot, code, signal, spawn);
    });
  }

  private async restart(slot: Slot, code: number | null, signal: NodeJS.Signals | null, spawn: () => Promise<ChildProcess>): Promise<void> {
    // Workers and chiefs that exit 0 have finished (job done); a PS exits 0 only once drained
    // (`tessera ps drain`, issue 17): its buckets live on the other PS now.
    if (this.stopped || this.opts.supervise === false || code === 0) return;
    // A worker or chief that exits because the job failed is not restarted: waitDone reports it.
    if (slot.role !== 'ps' && (await this.status().catch(() => undefined))?.phase === 'failed') return;
    const how = signal ? `killed by ${signal}` : `exit code ${code}`;
    // Exit code 2 on the first start is a usage or configuration error: a restart would meet the
    // same one. After a restart it may be the moment's (a PS's old port taken): back off as usual.
    const first = !slot.restarted;
    slot.restarted = true;
    const d = code === 2 && first ? { kind: 'usage' as const } : slot.backoff.onExit(Date.now() - slot.startedAt);
    if (d.kind !== 'restart') {
      const why = d.kind === 'usage' ? 'a configuration error' : `it failed ${d.quickFailures} times in a row right after starting`;
      this.report(`${slot.name} exited (${how}); not restarting it: ${why}`);
      this.gaveUp ??= {
        exitCode: code === 2 ? 2 : 1,
        message: d.kind === 'usage' ? `${slot.name} stopped: ${reasonFromLog(logTail(slot.logFile))}`
          : `${slot.name} keeps failing right after it starts (${how}): ${reasonFromLog(logTail(slot.logFile))}`,
      };
      this.wake.notify();
      return;
    }
    this.report(`${slot.name} exited (${how}); restart #${d.restart} in ${(d.delayMs / 1000).toFixed(1)} s`);
    try {
      await sleep(d.delayMs, undefined, { signal: this.stopping.signal });
      await this.memberGone(slot.role, slot.name);
      if (this.stopped) return;
      slot.startedAt = Date.now();
      const proc = await spawn();
      if (this.stopped) proc.kill('SIGTERM');
      else this.supervise(slot, proc, spawn);
    } catch {
      if (this.stopped) return;
      // It did not even start (a PS that exited before listening): a quick failure.
      await this.restart(slot, 1, null, spawn);
    }
  }

  /**
   * Resolves once etcd no longer holds `role`/`id` (the dead process's lease expired), so the
   * restarted process can register under it; or after the lease TTL and a margin, or at stop().
   */
  private async memberGone(role: Role, id: string): Promise<void> {
    const membership = new EtcdMembership({ client: this.client, job: this.opts.job, logger: silentLogger() });
    let gone!: () => void;
    const removed = new Promise<void>((r) => { gone = r; });
    const w = await membership.watch(role, (ev) => { if (ev.id === id && ev.type === 'remove') gone(); }).catch(() => undefined);
    if (!w) return; // etcd unreachable: start it anyway; it waits for etcd itself
    try {
      if (!w.snapshot.some((m) => m.id === id)) return;
      const ttlMs = ((this.opts.leaseTtlS ?? 5) + 5) * 1000;
      await Promise.race([removed, sleep(ttlMs, undefined, { signal: this.stopping.signal }).catch(() => undefined)]);
    } finally {
      await w.stop();
    }
  }

  private report(line: string): void {
    this.opts.onEvent?.(line);
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
   * Resolves with the job's result once the chief reports it done. Rejects with a
   * ClusterFailedError when the job can no longer finish: the chief failed it, a process was
   * given up, the cluster was stopped, or (unsupervised) every chief, every worker or any PS exited.
   */
  async waitDone(onStatus?: (s: JobStatus) => void, pollMs = 250): Promise<JobResult> {
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
      if (s?.phase === 'failed' && s.failure) {
        throw new ClusterFailedError(failureExitCode(s.failure), `job ${this.opts.job} failed: ${s.failure.reason} [${s.failure.code}]; logs in ${this.opts.runDir}`);
      }
      if (this.gaveUp) throw new ClusterFailedError(this.gaveUp.exitCode, `${this.gaveUp.message}; logs in ${this.opts.runDir}`);
      if (this.stopped) throw new ClusterFailedError(1, `stopped before the job was done; logs in ${this.opts.runDir}`);
      const dead = this.opts.supervise === false ? this.deadReason() : undefined;
      if (dead) throw new ClusterFailedError(1, `${dead}; logs in ${this.opts.runDir}`);
      await this.wake.wait(pollMs);
    }
  }

  private deadReason(): string | undefined {
    const gone = (c: Child) => !c.running && c.proc.exitCode !== 0;
    if (this.chiefs.length > 0 && this.chiefs.every((c) => !c.running)) {
      const codes = this.chiefs.map((c) => `${c.name} exited with ${c.proc.exitCode ?? c.proc.signalCode}`).join(', ');
      return `no chief is running (${codes}): ${reasonFromLog(logTail(this.chiefs[0].logFile))}`;
    }
    if (this.workers.length > 0 && this.workers.every(gone)) return 'every worker exited before the job was done';
    const psDown = this.ps.find((p) => p.proc.exitCode !== null || p.proc.signalCode !== null);
    if (psDown) return `parameter server ${this.ps.indexOf(psDown)} exited`;
    return undefined;
  }

  /** Stops every child with SIGTERM in order: workers, chiefs, PS, then etcd if it was started here. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.stopping.abort();
    this.wake.notify();
    await Promise.all(this.workers.map((c) => c.stop()));
    await Promise.all(this.chiefs.map((c) => c.stop()));
    await Promise.all(this.ps.map((p) => (p.proc.exitCode === null && p.proc.signalCode === null ? p.stop() : Promise.resolve(null))));
    await this.stopTargets().catch(() => undefined);
    this.client.close();
    await this.etcd?.stop();
  }
}

/** The last LOG_TAIL_BYTES of a log file ('' when unreadable). */
function logTail(file: string): string {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const buf = Buffer.alloc(Math.min(size, LOG_TAIL_BYTES));
      fs.readSync(fd, buf, 0, buf.length, size - buf.length);
      return buf.toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}
