/**
 * `tessera serve --follow [--etcd URL --job NAME]`: the flags of following a delta stream, checked
 * before anything starts, and the etcd watch of the job's `deltas/latest` key that makes a replica
 * rescan as soon as the chief announces a version (a replica without etcd relies on the model
 * root watcher and its poll).
 */
import type { Etcd3 } from 'etcd3';
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { Logger } from '../common/logger';
import { EtcdJobStore } from '../control/etcd-job-store';
import type { JobStoreWatch } from '../control/job-store';
import type { OptionSpec, ParsedArgs } from '../runtime/args';
import { checkEtcdReachable, createEtcdClient } from '../runtime/etcd-client';
import type { ModelRegistry } from '../serve/model-registry';

/** How long to wait for etcd at startup before reporting it unreachable. */
const ETCD_TIMEOUT_MS = 5_000;

/** The `tessera serve` options of following a delta stream. */
export const FOLLOW_SPEC: Record<string, OptionSpec> = {
  follow: { type: 'boolean', describe: 'apply the delta stream (ROOT/NAME/deltas/) on the newest full version as the chief publishes it; rows are held in RAM' },
  etcd: { type: 'string', describe: 'with --follow: etcd endpoints, to rescan when the job announces a version (deltas/latest) [TESSERA_ETCD]' },
  job: { type: 'string', describe: 'with --follow --etcd: the training job whose announcements to watch' },
};

/** Where to watch announcements (undefined: no etcd). */
export interface FollowFlags {
  follow: boolean;
  etcd?: { endpoints: string; job: string };
}

/**
 * The follow flags of `args`.
 * @throws TesseraError CONFIG for --etcd/--job without --follow, one without the other, or
 *   --follow with --max-resident-bytes
 */
export function followFlags(args: ParsedArgs): FollowFlags {
  const o = args.options as Record<string, string | boolean | undefined>;
  const follow = o.follow === true;
  const endpoints = (o.etcd as string | undefined) ?? (follow ? process.env.TESSERA_ETCD : undefined);
  const job = o.job as string | undefined;
  if (!follow && (o.etcd !== undefined || job !== undefined)) throw new TesseraError(ERROR_CODES.CONFIG, '--etcd and --job watch a delta stream: add --follow');
  if (follow && o['max-resident-bytes'] !== undefined) {
    throw new TesseraError(ERROR_CODES.CONFIG, '--follow keeps every row in RAM (each delta builds the next version from a copy): drop --max-resident-bytes');
  }
  if (job !== undefined && !endpoints) throw new TesseraError(ERROR_CODES.CONFIG, '--job needs --etcd URL (or TESSERA_ETCD)');
  if (endpoints && job === undefined) {
    if (o.etcd === undefined) return { follow }; // TESSERA_ETCD set for another purpose: no job, no watch
    throw new TesseraError(ERROR_CODES.CONFIG, '--etcd needs --job NAME: the job whose deltas/latest to watch');
  }
  return { follow, etcd: endpoints && job ? { endpoints, job } : undefined };
}

/** Watches the job's `deltas/latest` and rescans `registry` on every announcement; resolves with the way to stop. */
export async function watchAnnouncements(etcd: { endpoints: string; job: string }, registry: ModelRegistry, logger: Logger): Promise<{ stop(): Promise<void> }> {
  await checkEtcdReachable(etcd.endpoints, '--etcd', ETCD_TIMEOUT_MS);
  const client: Etcd3 = createEtcdClient(etcd.endpoints, { dialTimeoutMs: ETCD_TIMEOUT_MS });
  const store = new EtcdJobStore({ client, job: etcd.job, logger });
  let watch: JobStoreWatch;
  try {
    watch = await store.watchDeltaPointer(() => {
      registry.rescan().catch((err: Error) => logger.error({ err: err.message }, 'rescan after an announced version failed'));
    });
  } catch (err) {
    client.close();
    throw new TesseraError(ERROR_CODES.UNAVAILABLE, `cannot watch deltas/latest of job "${etcd.job}" in etcd at ${etcd.endpoints}: ${(err as Error).message.split('\n')[0]}`);
  }
  logger.info({ job: etcd.job }, 'watching deltas/latest for announced versions');
  return { stop: async () => { await watch.stop(); client.close(); } };
}
