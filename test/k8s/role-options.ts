/**
 * The command-line contract of `tessera chief` and `tessera worker` as the manifests use it,
 * for the arg-parse check of test/k8s. `tessera ps` is checked against its real exported
 * options (src/ps/main.ts PS_OPTIONS).
 *
 * TODO(issue #7 / control plane): replace CHIEF_OPTIONS and WORKER_OPTIONS with the options
 * exported by src/chief/main.ts and src/worker/main.ts once those commands exist, so the
 * manifests are parsed by the real parser with the real specs.
 */
import type { OptionSpec } from '../../src/cli/args';
import { PS_OPTIONS } from '../../src/ps/main';

const opt = (describe: string): OptionSpec => ({ type: 'string', describe });

/** `tessera chief --etcd URL --job NAME --spec FILE --ps N --data PATH --eval PATH --epochs E --checkpoint-dir DIR --port P --metrics-port M [--id ID] [--force] [--lease-ttl S]`. */
export const CHIEF_OPTIONS: Record<string, OptionSpec> = {
  etcd: opt('etcd endpoints [TESSERA_ETCD]'),
  job: opt('job name [TESSERA_JOB]'),
  spec: opt('job spec YAML'),
  ps: opt('number of PS'),
  data: opt('training data'),
  eval: opt('evaluation data'),
  epochs: opt('epochs'),
  'checkpoint-dir': opt('checkpoint directory'),
  port: opt('gRPC port (chief service and health)'),
  'metrics-port': opt('Prometheus port'),
  id: opt('candidate id'),
  force: { type: 'boolean', describe: 'replace a different stored spec' },
  'lease-ttl': opt('etcd lease TTL, seconds'),
};

/** `tessera worker --etcd URL --job NAME --id ID --port P --metrics-port M [--backend tensorflow|wasm|cpu] [--lease-ttl S]`. */
export const WORKER_OPTIONS: Record<string, OptionSpec> = {
  etcd: opt('etcd endpoints [TESSERA_ETCD]'),
  job: opt('job name [TESSERA_JOB]'),
  id: opt('worker id [TESSERA_WORKER_ID]'),
  port: opt('gRPC health port'),
  'metrics-port': opt('Prometheus port'),
  backend: opt('tensorflow | wasm | cpu'),
  'lease-ttl': opt('etcd lease TTL, seconds'),
};

/** Options per role subcommand. */
export const ROLE_OPTIONS: Readonly<Record<string, Record<string, OptionSpec>>> = {
  ps: PS_OPTIONS,
  chief: CHIEF_OPTIONS,
  worker: WORKER_OPTIONS,
};

/** Flags the manifests must pass to each role (the deployment contract, not the CLI's own defaults). */
export const REQUIRED_FLAGS: Readonly<Record<string, readonly string[]>> = {
  ps: ['etcd', 'job', 'id', 'port', 'advertise', 'metrics-port'],
  chief: ['etcd', 'job', 'spec', 'ps', 'data', 'eval', 'epochs', 'checkpoint-dir', 'port', 'metrics-port'],
  worker: ['etcd', 'job', 'id', 'port', 'metrics-port'],
};

/** Flags whose value must be a positive integer (after $(VAR) expansion). */
export const INTEGER_FLAGS: readonly string[] = ['port', 'metrics-port', 'ps', 'epochs', 'lease-ttl'];
