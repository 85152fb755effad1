/**
 * PS configuration: defaults < TESSERA_* environment < command-line flags. Parsed once at start
 * (cli/ps.ts), validated, frozen, so no code reads the environment later. Every variable is
 * listed in docs/config.md.
 */
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { expandOrdinal } from '../common/pod-ordinal';
import { DEFAULT_MAX_REQUEST_BYTES } from '../wire/grpc-options';

export interface PsConfig {
  /** address the gRPC and metrics servers bind: loopback unless told otherwise (Kubernetes: 0.0.0.0) */
  readonly host: string;
  readonly port: number;
  readonly maxRequestBytes: number;
  readonly logLevel: string;
  readonly id: string;
  /** directory of the disk tier (tables with `eviction.spill`); null: no tier */
  readonly tierDir: string | null;
  /** where Snapshot and Restore may read and write (absolute); empty: both are refused */
  readonly checkpointRoots: readonly string[];
  /** bound on the graceful stop after SIGTERM, after which the process exits anyway */
  readonly shutdownTimeoutMs: number;
  /**
   * shard servers this process runs, each on its own worker thread, port and PS identity
   * (src/ps/shard-layout.ts); default: the cores Node may use (`os.availableParallelism()`)
   */
  readonly shards: number;
}

/** Most shards one PS process runs (each is a thread with its own heap and port). */
export const MAX_SHARDS = 64;

/** The flags and variables `loadPsConfig` reads: every PsConfig key but the list of roots, as strings. */
type PsConfigInput = Record<Exclude<keyof PsConfig, 'checkpointRoots'> | 'checkpointRoot', string>;

export const PS_DEFAULTS: PsConfig = {
  host: '127.0.0.1',
  port: 7000,
  maxRequestBytes: DEFAULT_MAX_REQUEST_BYTES,
  logLevel: 'info',
  id: 'ps-0',
  tierDir: null,
  checkpointRoots: [],
  shutdownTimeoutMs: 10_000,
  shards: 1, // replaced by the process's cores in loadPsConfig
};

const ENV: PsConfigInput = {
  host: 'TESSERA_PS_HOST',
  port: 'TESSERA_PS_PORT',
  maxRequestBytes: 'TESSERA_MAX_REQUEST_BYTES',
  logLevel: 'TESSERA_LOG_LEVEL',
  id: 'TESSERA_PS_ID',
  tierDir: 'TESSERA_TIER_DIR',
  checkpointRoot: 'TESSERA_CHECKPOINT_ROOT',
  shutdownTimeoutMs: 'TESSERA_SHUTDOWN_TIMEOUT_MS',
  shards: 'TESSERA_PS_SHARDS',
};

function int(name: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new TesseraError(ERROR_CODES.CONFIG, `${name} must be an integer in [${min}, ${max}], got "${raw}"`);
  }
  return n;
}

/** Environment variable holding the pod name that fills `{ordinal}` in the id (src/common/pod-ordinal.ts). */
export const POD_NAME_ENV = 'TESSERA_POD_NAME';

/**
 * Merges defaults, environment and flags (flags as strings, undefined when absent). An id such
 * as `ps-{ordinal}` takes the ordinal of the StatefulSet pod named in TESSERA_POD_NAME.
 */
export function loadPsConfig(env: NodeJS.ProcessEnv, flags: Partial<PsConfigInput>): PsConfig {
  const pick = (k: keyof PsConfigInput): string | undefined => flags[k] ?? env[ENV[k]];
  const port = pick('port');
  const max = pick('maxRequestBytes');
  const grace = pick('shutdownTimeoutMs');
  const shards = pick('shards');
  return Object.freeze({
    host: pick('host') ?? PS_DEFAULTS.host,
    port: port === undefined ? PS_DEFAULTS.port : int(flags.port ? '--port' : ENV.port, port, 0, 65535),
    maxRequestBytes: max === undefined ? PS_DEFAULTS.maxRequestBytes
      : int(flags.maxRequestBytes ? '--max-request-bytes' : ENV.maxRequestBytes, max, 1024, 1 << 30),
    logLevel: pick('logLevel') ?? PS_DEFAULTS.logLevel,
    tierDir: pick('tierDir') || null,
    id: expandOrdinal(pick('id') ?? PS_DEFAULTS.id, env[POD_NAME_ENV], flags.id ? '--id' : ENV.id),
    checkpointRoots: checkpointRoots(pick('checkpointRoot')),
    shutdownTimeoutMs: grace === undefined ? PS_DEFAULTS.shutdownTimeoutMs
      : int(flags.shutdownTimeoutMs ? '--shutdown-timeout-ms' : ENV.shutdownTimeoutMs, grace, 1, 600_000),
    shards: shards === undefined ? Math.min(MAX_SHARDS, availableParallelism())
      : int(flags.shards ? '--shards' : ENV.shards, shards, 1, MAX_SHARDS),
  });
}

/** `DIR[,DIR...]` → absolute directories (a relative one is taken from the working directory). */
function checkpointRoots(raw: string | undefined): string[] {
  return (raw ?? '').split(',').map((r) => r.trim()).filter((r) => r !== '').map((r) => path.resolve(r));
}
