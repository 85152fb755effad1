/**
 * Starts and stops a real single-member etcd process (Debian `etcd-server`, etcd 3.4) on free
 * 127.0.0.1 ports with its own data dir. Tests wrap it (test/helpers/etcd.ts); `tessera local`
 * reuses it to run its own etcd.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ERROR_CODES, TesseraError } from './errors';

/** Shown whenever the etcd binary is absent. */
export const ETCD_MISSING_MESSAGE = 'etcd not found on PATH; install it with: apt-get install -y etcd-server';

/**
 * How long to wait for `/health` to say true. etcd is healthy in about 0.15 s here (start or
 * restart); it fsyncs its WAL and bolt db first, which a slow CI disk can stretch to seconds.
 * 15 s covers that without hiding a hung start.
 */
const READY_TIMEOUT_MS = 15_000;
/** Gap between `/health` polls: short against the ~0.2 s start, cheap for etcd. */
const HEALTH_POLL_MS = 25;
/** Per-poll HTTP timeout, so one stuck request cannot eat the whole readiness budget. */
const HEALTH_REQUEST_TIMEOUT_MS = 1_000;
/** SIGTERM grace: etcd closes its WAL and listeners in well under a second; then SIGKILL. */
const STOP_GRACE_MS = 5_000;
/** Raft heartbeat for a single member (see the comment at the flag). */
const HEARTBEAT_MS = 20;
/** Raft election timeout for a single member: 5 x heartbeat, the minimum etcd accepts. */
const ELECTION_TIMEOUT_MS = 100;
/** Lines of etcd output kept for error messages. */
const OUTPUT_TAIL_LINES = 40;

/** Options for {@link launchEtcd}. */
export interface EtcdLaunchOptions {
  /** Data dir to use. Default: a fresh `mkdtemp` dir under the OS temp dir. */
  dataDir?: string;
  /** Keep the data dir on `stop()`. Default: false for a temp dir, true for a caller's `dataDir`. */
  keepData?: boolean;
  /** Member name (`--name`). Default `default`. */
  name?: string;
  /** Readiness timeout in ms. Default {@link READY_TIMEOUT_MS}. */
  readyTimeoutMs?: number;
  /** Mutual TLS on the client and peer URLs (https, --client-cert-auth); absent: plain http. */
  tls?: EtcdTlsFiles;
}

/**
 * etcd's TLS files: its server certificate (serving 127.0.0.1), the CA every client certificate
 * must chain to, and a client certificate the launcher uses for its own health checks.
 */
export interface EtcdTlsFiles {
  serverCert: string;
  serverKey: string;
  ca: string;
  clientCert: string;
  clientKey: string;
}

/** Full path of the `etcd` binary found on PATH, or undefined. */
export function findEtcdBinary(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, 'etcd');
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not in this dir
    }
  }
  return undefined;
}

/** True when an `etcd` binary is on PATH. */
export function etcdAvailable(): boolean {
  return findEtcdBinary() !== undefined;
}

/**
 * A running (or stopped) etcd process. `stop()` is idempotent.
 *
 * ```ts
 * const etcd = await launchEtcd();
 * const client = new Etcd3({ hosts: etcd.url });
 * // ...
 * client.close();
 * await etcd.stop();
 * ```
 */
export class EtcdProcess {
  /** Client URL, `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** Current child process; replaced by `restart()`. */
  proc: ChildProcess;
  private readonly tail: string[] = [];
  private exitPromise: Promise<void>;

  /** Use {@link launchEtcd}. */
  constructor(
    private readonly binary: string,
    readonly clientPort: number,
    readonly peerPort: number,
    readonly dataDir: string,
    private readonly keepData: boolean,
    private readonly name: string,
    private readonly readyTimeoutMs: number,
    private readonly tls?: EtcdTlsFiles,
  ) {
    this.url = `${tls ? 'https' : 'http'}://127.0.0.1:${clientPort}`;
    [this.proc, this.exitPromise] = this.spawnOnce();
  }

  /** The last lines etcd wrote to stdout/stderr. */
  outputTail(): string {
    return this.tail.join('\n');
  }

  /** True while the child has not exited. */
  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Polls `GET /health` until it reports true; rejects if etcd exits or the timeout passes. */
  async waitReady(): Promise<void> {
    const deadline = Date.now() + this.readyTimeoutMs;
    let lastError = 'no response yet';
    while (Date.now() < deadline) {
      if (!this.running) throw this.fail(`etcd exited before becoming healthy (code ${this.proc.exitCode}, signal ${this.proc.signalCode})`);
      try {
        if (await getHealth(this.url, this.tls)) return;
        lastError = 'health=false';
      } catch (err) {
        lastError = (err as Error).message;
      }
      await new Promise((r) => setTimeout(r, HEALTH_POLL_MS));
    }
    throw this.fail(`etcd at ${this.url} not healthy after ${this.readyTimeoutMs} ms (last: ${lastError})`);
  }

  /** SIGTERM, await exit (SIGKILL after a grace period), then remove the data dir unless kept. */
  async stop(): Promise<void> {
    await this.signalAndWait('SIGTERM');
    if (!this.keepData) rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** SIGKILL (a crash) and await exit. The data dir stays, so `restart()` can recover from it. */
  async kill(): Promise<void> {
    await this.signalAndWait('SIGKILL');
  }

  /** Stops etcd if running (keeping data) and starts it again on the same ports and data dir. */
  async restart(): Promise<void> {
    await this.signalAndWait('SIGTERM');
    [this.proc, this.exitPromise] = this.spawnOnce();
    await this.waitReady();
  }

  private async signalAndWait(signal: NodeJS.Signals): Promise<void> {
    if (!this.running) return;
    this.proc.kill(signal);
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), STOP_GRACE_MS);
    try {
      await this.exitPromise;
    } finally {
      clearTimeout(timer);
    }
  }

  private spawnOnce(): [ChildProcess, Promise<void>] {
    const peer = `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.peerPort}`;
    const args = [
      '--name', this.name,
      '--data-dir', this.dataDir,
      '--listen-client-urls', this.url,
      '--advertise-client-urls', this.url,
      '--listen-peer-urls', peer,
      '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `${this.name}=${peer}`,
      '--initial-cluster-state', 'new', // ignored when the data dir already holds a member
      // A restarted member waits one randomized election timeout (1–2 s at the 1000 ms default)
      // before it elects itself. With one member there is no peer to lose contact with, so a
      // short timeout is safe and makes restart() ~10x faster. etcd requires election >= 5 x
      // heartbeat.
      '--heartbeat-interval', String(HEARTBEAT_MS),
      '--election-timeout', String(ELECTION_TIMEOUT_MS),
      '--logger', 'zap',
      '--log-outputs', 'stderr',
      // etcd 3.4 has no --unsafe-no-fsync (added in 3.5).
      ...(this.tls ? tlsArgs(this.tls) : []),
    ];
    // detached: a terminal's Ctrl-C must not stop etcd before the processes that use it.
    const proc = spawn(this.binary, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    LIVE.add(proc);
    const collect = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        this.tail.push(line);
        if (this.tail.length > OUTPUT_TAIL_LINES) this.tail.shift();
      }
    };
    proc.stdout!.on('data', collect);
    proc.stderr!.on('data', collect);
    const exited = new Promise<void>((resolve) => {
      proc.once('exit', () => {
        LIVE.delete(proc);
        resolve();
      });
      proc.once('error', (err) => {
        this.tail.push(`spawn error: ${err.message}`);
        LIVE.delete(proc);
        resolve();
      });
    });
    return [proc, exited];
  }

  private fail(message: string): TesseraError {
    return new TesseraError(ERROR_CODES.UNAVAILABLE, `${message}\n--- etcd output (tail) ---\n${this.outputTail()}`);
  }
}

/**
 * Starts etcd on two free 127.0.0.1 ports (client, peer) and resolves once `/health` is true.
 * Throws a CONFIG error with {@link ETCD_MISSING_MESSAGE} when etcd is not installed.
 */
export async function launchEtcd(opts: EtcdLaunchOptions = {}): Promise<EtcdProcess> {
  const binary = findEtcdBinary();
  if (binary === undefined) throw new TesseraError(ERROR_CODES.CONFIG, ETCD_MISSING_MESSAGE);
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'tessera-etcd-'));
  const keepData = opts.keepData ?? opts.dataDir !== undefined;
  const [clientPort, peerPort] = await freePorts(2);
  const etcd = new EtcdProcess(binary, clientPort, peerPort, dataDir, keepData, opts.name ?? 'default', opts.readyTimeoutMs ?? READY_TIMEOUT_MS, opts.tls);
  try {
    await etcd.waitReady();
  } catch (err) {
    await etcd.stop();
    throw err;
  }
  return etcd;
}

/** Reserves `n` distinct free ports by holding all listeners open at once, then releases them. */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<net.Server>((resolve, reject) => {
      const srv = net.createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => resolve(srv));
    })),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** Client and peer TLS: every client and peer must present a certificate from `ca`. */
function tlsArgs(t: EtcdTlsFiles): string[] {
  return [
    '--cert-file', t.serverCert, '--key-file', t.serverKey, '--trusted-ca-file', t.ca, '--client-cert-auth',
    '--peer-cert-file', t.serverCert, '--peer-key-file', t.serverKey, '--peer-trusted-ca-file', t.ca, '--peer-client-cert-auth',
  ];
}

function getHealth(url: string, tls?: EtcdTlsFiles): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const get = tls ? https.get : http.get;
    const certs = tls ? { ca: readFileSync(tls.ca), cert: readFileSync(tls.clientCert), key: readFileSync(tls.clientKey) } : {};
    const req = get(`${url}/health`, { timeout: HEALTH_REQUEST_TIMEOUT_MS, agent: false, ...certs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        try {
          resolve(res.statusCode === 200 && (JSON.parse(body) as { health?: string }).health === 'true');
        } catch {
          resolve(false);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('health request timed out')));
    req.on('error', reject);
  });
}

/** Children still running; killed if this process exits without stopping them (no orphans). */
const LIVE = new Set<ChildProcess>();
process.once('exit', () => {
  for (const proc of LIVE) proc.kill('SIGKILL');
});
