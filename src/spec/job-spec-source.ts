/**
 * Where a role gets the job spec: a file given on the command line (stored in etcd, refused if a
 * different spec is already stored under the job name, unless --force), or the one in etcd.
 */
import type { Namespace } from 'etcd3';
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { Logger } from '../common/logger';
import { Signal } from '../common/signal';
import { SpecStore } from '../membership/spec-store';
import { jobSpecToYaml, loadJobSpec, parseJobSpec, specFingerprint } from './job-spec';
import type { JobSpec } from './types';
import { overrideSpec } from './overrides';

/** Where resolveJobSpec looks: etcd (`client`, `job`), a file or YAML text, and the overrides. */
export interface SpecSourceOptions {
  client: Namespace;
  job: string;
  logger: Logger;
  specPath?: string;
  /** A spec's YAML text to store (as with specPath), e.g. the one saved in a checkpoint. */
  specText?: string;
  force?: boolean;
  overrides?: { data?: string; eval?: string; epochs?: number };
  /** Without specPath: how long to wait for a spec to appear in etcd, ms. Default 10 min. */
  waitMs?: number;
}

/**
 * The job's spec: the file or text given (stored in etcd, refused when a different spec is stored
 * unless `force`), else the one in etcd once it appears; overrides applied either way.
 */
export async function resolveJobSpec(opts: SpecSourceOptions): Promise<JobSpec> {
  const store = new SpecStore({ client: opts.client, job: opts.job, logger: opts.logger });
  const o = opts.overrides ?? {};
  if (opts.specPath || opts.specText) {
    const base = opts.specPath ? loadJobSpec(opts.specPath) : parseJobSpec(opts.specText!, 'the checkpoint\'s job spec');
    const spec = overrideSpec(base, { train: o.data, eval: o.eval, epochs: o.epochs });
    const outcome = await store.putIfAbsentOrSame(jobSpecToYaml(spec), specFingerprint(spec), opts.force);
    opts.logger.info({ outcome, fingerprint: specFingerprint(spec) }, 'job spec in etcd');
    return spec;
  }
  const stored = await waitForSpec(store, opts.waitMs ?? 600_000, opts.logger, opts.job);
  return overrideSpec(parseJobSpec(stored, `etcd spec of job ${opts.job}`), { train: o.data, eval: o.eval, epochs: o.epochs });
}

/** Polls for the spec (it is written once, before any worker needs it). */
async function waitForSpec(store: SpecStore, waitMs: number, logger: Logger, job: string): Promise<string> {
  const deadline = Date.now() + waitMs;
  const tick = new Signal();
  let logged = false;
  for (;;) {
    const s = await store.get();
    if (s) return s.yaml;
    if (Date.now() > deadline) throw new TesseraError(ERROR_CODES.CONFIG, `job "${job}" has no spec in etcd after ${waitMs} ms; start its chief with --spec FILE`);
    if (!logged) logger.info('waiting for the job spec in etcd');
    logged = true;
    await tick.wait(500);
  }
}
