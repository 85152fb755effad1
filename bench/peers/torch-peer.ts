/**
 * Peer-trainer figure: DeepFM in PyTorch (`../shared/peers/torch_deepfm.py`, Debian's
 * `python3-torch` + `python3-sklearn`, run with `/usr/bin/python3`) trained and evaluated on the
 * same files as Tessera, in the same run. The script prints one line:
 *
 *   torch-deepfm auc=0.7012 logloss=0.4731 train_samples_per_s=4903 epochs=2 threads=2
 *
 * When torch or sklearn is missing and this process runs as root, the dependencies are installed
 * with apt-get first (what it runs is printed on stderr); set TESSERA_BENCH_INSTALL=0 to never
 * install. Without them the result is `{ skipped }` naming the install command.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';

/** Options for {@link runTorchPeer}. */
export interface TorchPeerOptions {
  /** Criteo DAC-format TSV to train on (label, I1..I13, C1..C26). */
  train: string;
  /** Same format; AUC and logloss are measured on it. */
  test: string;
  /** Passes over `train`. */
  epochs: number;
  /** torch.set_num_threads. */
  threads: number;
  /** Kill the peer after this long and throw; default 30 minutes. */
  timeoutMs?: number;
}

/** Result of {@link runTorchPeer}: the peer's figures and its raw stdout, or why it was skipped. */
export type TorchPeerResult =
  | { auc: number; logloss: number; samplesPerS: number; raw: string }
  | { skipped: string };

/** The interpreter the Debian packages install into. */
export const TORCH_PYTHON = '/usr/bin/python3';
/** What installs the peer's dependencies. */
export const TORCH_INSTALL_HINT = 'apt-get install -y python3-torch python3-sklearn';

/** Repository root: this file is bench/peers/ in the sources, dist/bench/peers/ once compiled. */
const REPO_ROOT = path.resolve(__dirname, '..', '..', __dirname.includes(`${path.sep}dist${path.sep}`) ? '..' : '');
/** The peer script, in the shared folder beside the repository (/work/main → /work/shared). */
export const TORCH_PEER_SCRIPT = path.resolve(REPO_ROOT, '..', 'shared', 'peers', 'torch_deepfm.py');

const DEFAULT_TIMEOUT_MS = 30 * 60_000;
/** Bound on apt-get (update + install of torch pulls a few hundred MB). */
const INSTALL_TIMEOUT_MS = 20 * 60_000;

/**
 * Trains and evaluates the PyTorch DeepFM peer on `train` / `test`.
 *
 * ```ts
 * const r = await runTorchPeer({ train: 'train.tsv', test: 'eval.tsv', epochs: 1, threads: 2 });
 * if ('skipped' in r) console.log(r.skipped); else console.log(r.samplesPerS, r.auc);
 * ```
 *
 * @throws Error when the peer runs but fails (non-zero exit, timeout, or output without the
 *   auc / logloss / samples-per-second figures): a broken peer is never reported as skipped.
 */
export async function runTorchPeer(opts: TorchPeerOptions): Promise<TorchPeerResult> {
  if (!existsSync(TORCH_PEER_SCRIPT)) return { skipped: `peer script not found: ${TORCH_PEER_SCRIPT}` };
  const missing = ensureTorchDependencies();
  if (missing !== undefined) return { skipped: missing };

  const args = [TORCH_PEER_SCRIPT, opts.train, opts.test, String(opts.epochs), String(opts.threads)];
  const { code, signal, stdout, stderr, timedOut } = await run(TORCH_PYTHON, args, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const cmd = `${TORCH_PYTHON} ${args.join(' ')}`;
  if (timedOut) throw new Error(`torch peer timed out after ${opts.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms: ${cmd}\n${tail(stderr)}`);
  if (code !== 0) throw new Error(`torch peer exited (code ${code}, signal ${signal}): ${cmd}\n${tail(stderr || stdout)}`);
  const parsed = parseTorchPeerOutput(stdout);
  if (parsed === undefined) throw new Error(`torch peer output has no auc / logloss / samples-per-second figures: ${cmd}\n${tail(stdout)}`);
  return { ...parsed, raw: stdout.trim() };
}

/**
 * Reads the figures from the peer's stdout. Accepts `key=value` or `key: value`, any order, the
 * last occurrence winning; `nan` parses to NaN. Undefined when a figure is missing.
 *
 * ```ts
 * parseTorchPeerOutput('torch-deepfm auc=0.7012 logloss=0.4731 train_samples_per_s=4903 epochs=2');
 * // { auc: 0.7012, logloss: 0.4731, samplesPerS: 4903 }
 * ```
 */
export function parseTorchPeerOutput(text: string): { auc: number; logloss: number; samplesPerS: number } | undefined {
  const num = String.raw`([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf)`;
  const pick = (key: string): number | undefined => {
    const re = new RegExp(String.raw`(?:^|[^A-Za-z0-9_])(?:${key})\s*[=:]\s*${num}`, 'gim');
    let last: string | undefined;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) last = m[1];
    if (last === undefined) return undefined;
    const l = last.toLowerCase();
    return l === 'nan' ? NaN : l === 'inf' ? Infinity : Number(last);
  };
  const auc = pick('auc');
  const logloss = pick('logloss|log_loss');
  const samplesPerS = pick(String.raw`train_samples_per_s|samples_per_s|samples/s`);
  if (auc === undefined || logloss === undefined || samplesPerS === undefined) return undefined;
  return { auc, logloss, samplesPerS };
}

/**
 * Undefined when python3, torch and sklearn import; else the skip message. Installs them with
 * apt-get when running as root (unless TESSERA_BENCH_INSTALL=0). bench:serve's torch forward uses it too.
 */
export function ensureTorchDependencies(): string | undefined {
  const problem = probe();
  if (problem === undefined) return undefined;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const skip = (why: string): string => `${problem}${why}; install the peer's dependencies with: ${TORCH_INSTALL_HINT}`;
  if (process.env.TESSERA_BENCH_INSTALL === '0') return skip(' (TESSERA_BENCH_INSTALL=0: not installing)');
  if (!isRoot) return skip(' (not root: not installing)');
  if (!existsSync('/usr/bin/apt-get')) return skip(' (no apt-get here)');
  process.stderr.write(`torch peer: ${problem}; installing: ${TORCH_INSTALL_HINT} (set TESSERA_BENCH_INSTALL=0 to skip)\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = (): number | null => spawnSync('apt-get', ['install', '-y', 'python3-torch', 'python3-sklearn'],
    { stdio: ['ignore', 2, 2], env, timeout: INSTALL_TIMEOUT_MS }).status;
  if (install() !== 0) {
    process.stderr.write('torch peer: apt-get install failed; running apt-get update and retrying\n');
    spawnSync('apt-get', ['update'], { stdio: ['ignore', 2, 2], env, timeout: INSTALL_TIMEOUT_MS });
    if (install() !== 0) return skip(' (apt-get install failed)');
  }
  const after = probe();
  return after === undefined ? undefined : `${after} after apt-get install; install the peer's dependencies with: ${TORCH_INSTALL_HINT}`;
}

/** Undefined when the interpreter imports torch and sklearn; else what is missing. */
function probe(): string | undefined {
  if (!existsSync(TORCH_PYTHON)) return `${TORCH_PYTHON} not found`;
  const r = spawnSync(TORCH_PYTHON, ['-c', 'import torch, sklearn'], { encoding: 'utf8', timeout: 120_000 });
  if (r.status === 0) return undefined;
  const err = `${r.stderr ?? ''}`.trim().split('\n').pop() ?? '';
  return `${TORCH_PYTHON} cannot import torch and sklearn${err ? ` (${err})` : ''}`;
}

interface RunResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; timedOut: boolean }

function run(cmd: string, args: string[], timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
    child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
    child.once('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr, timedOut }); });
  });
}

function tail(s: string, lines = 20): string {
  return s.trimEnd().split('\n').slice(-lines).join('\n');
}
