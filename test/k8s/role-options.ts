/**
 * The command-line contract of the role commands as the manifests use them: the real exported
 * option specs, so the manifests' args are parsed by the real parser.
 */
import type { OptionSpec } from '../../src/runtime/args';
import { CHIEF_SPEC } from '../../src/cli/chief';
import { PS_OPTIONS } from '../../src/cli/ps';
import { WORKER_SPEC } from '../../src/cli/worker';
import { SERVE_SPEC } from '../../src/cli/serve';

const CHIEF_OPTIONS = CHIEF_SPEC;
const WORKER_OPTIONS = WORKER_SPEC;

/** Options per role subcommand. */
export const ROLE_OPTIONS: Readonly<Record<string, Record<string, OptionSpec>>> = {
  ps: PS_OPTIONS,
  chief: CHIEF_OPTIONS,
  worker: WORKER_OPTIONS,
  serve: SERVE_SPEC,
};

/** Flags the manifests must pass to each role (the deployment contract, not the CLI's own defaults). */
export const REQUIRED_FLAGS: Readonly<Record<string, readonly string[]>> = {
  ps: ['etcd', 'job', 'id', 'port', 'advertise', 'metrics-port', 'host', 'checkpoint-root'],
  chief: ['etcd', 'job', 'spec', 'ps', 'data', 'eval', 'epochs', 'checkpoint-dir', 'export-dir', 'port', 'metrics-port', 'host', 'linger'],
  worker: ['etcd', 'job', 'id', 'port', 'metrics-port', 'host'],
  serve: ['model-root', 'host', 'port', 'grpc-port', 'metrics-port'],
};

/** Flags whose value must be a positive integer (after $(VAR) expansion). */
export const INTEGER_FLAGS: readonly string[] = ['port', 'grpc-port', 'metrics-port', 'ps', 'epochs', 'lease-ttl'];
