/**
 * `tessera ps drain ID --etcd URL --job NAME`: asks the job's chief to move every bucket of PS
 * `ID` to the other PS while training goes on (live resharding, issue 17). It records
 * `drain/<ID>` in etcd and returns; the chief migrates the buckets, marks the drain done, and the
 * PS then exits 0. A Kubernetes preStop hook runs the same command.
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import { Logger, silentLogger } from '../common/logger';
import type { ClusterLink } from '../runtime/role-runtime';
import { EtcdJobStore } from '../control/etcd-job-store';
import { validateMemberId } from '../membership/keys';
import { ShardMapStore } from '../membership/shard-map-store';
import { psNumber } from '../chief/ps-set';
import { helpText, intOption, OptionSpec, parseArgs } from '../runtime/args';
import { checkEtcdReachable, createEtcdClient } from '../runtime/etcd-client';
import { ETCD_JOB_OPTIONS, loadSecurity } from '../runtime/security-options';

const SPEC: Record<string, OptionSpec> = {
  ...ETCD_JOB_OPTIONS,
  json: { type: 'boolean', describe: 'end with one JSON line {"ps", "requested", "buckets", "done"}' },
  wait: { type: 'boolean', describe: 'return only once the chief has moved every bucket away (a Kubernetes preStop hook waits so)' },
  timeout: { type: 'string', describe: 'with --wait: give up after this many seconds (exit 1)', default: '600' },
};

/** `tessera ps drain --help`. */
export const PS_DRAIN_HELP = helpText('tessera ps drain ID --etcd URL --job NAME [--wait [--timeout S]] [--json]',
  'Asks the chief to move every bucket of parameter server ID (its member id, e.g. ps-2) to the\n'
  + 'other PS while the job trains; the PS exits 0 once it holds nothing. Returns once the request\n'
  + 'is recorded, or with --wait once the drain is done; `tessera status` shows the migration.', SPEC);

/**
 * Resolves true once the chief marks `id`'s drain done, or once the record is gone (done, the PS
 * left, and the chief forgot it); false after `timeoutS`.
 */
async function drained(store: EtcdJobStore, id: string, timeoutS: number): Promise<boolean> {
  let settle!: (done: boolean) => void;
  const result = new Promise<boolean>((resolve) => { settle = resolve; });
  const timer = setTimeout(() => settle(false), timeoutS * 1000);
  const watch = await store.watchDrain(id, (d) => { if (!d || d.done) settle(true); });
  try {
    return await result;
  } finally {
    clearTimeout(timer);
    await watch.stop();
  }
}

/**
 * The PS side (issue 17): watches the drain records of `ids` (the PS this process serves) and,
 * once the chief has marked every one done (it does so only after the map that gives them no
 * bucket is published and installed everywhere), stops the process with SIGTERM: it exits 0.
 */
export async function exitWhenDrained(cluster: ClusterLink, ids: readonly string[], logger: Logger): Promise<{ stop(): Promise<void> }> {
  const store = new EtcdJobStore({ client: cluster.etcd, job: cluster.job, logger });
  const done = new Set<string>();
  const watches = await Promise.all(ids.map((id) => store.watchDrain(id, (d) => {
    if (!d?.done || done.has(id)) return;
    done.add(id);
    logger.info({ id }, 'drained: the chief moved every bucket of this PS away');
    if (done.size === ids.length) {
      logger.info('every PS of this process is drained; exiting');
      process.kill(process.pid, 'SIGTERM');
    }
  })));
  return { stop: async () => { await Promise.all(watches.map((w) => w.stop())); } };
}

/** How long to wait for etcd before reporting it unreachable. */
const ETCD_TIMEOUT_MS = 5_000;

/** Records the drain request; exit code 0, or a CONFIG error naming what is wrong. */
export async function runPsDrain(argv: string[]): Promise<number> {
  const args = parseArgs(argv, SPEC);
  const o = args.options as Record<string, string | undefined>;
  const etcd = o.etcd ?? process.env.TESSERA_ETCD;
  const job = o.job ?? process.env.TESSERA_JOB;
  if (args.positional.length !== 1) throw new TesseraError(ERROR_CODES.CONFIG, 'tessera ps drain takes one PS id (e.g. tessera ps drain ps-2 --etcd URL --job NAME)');
  if (!etcd || !job) throw new TesseraError(ERROR_CODES.CONFIG, 'tessera ps drain needs --etcd URL and --job NAME');
  const id = validateMemberId(args.positional[0], 'ID');
  const n = psNumber(id);
  const credentials = loadSecurity(process.env, args.options, etcd).etcd;
  if (!credentials) await checkEtcdReachable(etcd, '--etcd', ETCD_TIMEOUT_MS);
  const client = createEtcdClient(etcd, { dialTimeoutMs: ETCD_TIMEOUT_MS, credentials });
  const logger = silentLogger();
  try {
    const map = await new ShardMapStore({ client, job, logger }).get();
    if (!map) throw new TesseraError(ERROR_CODES.CONFIG, `job ${job} has no shard map yet: there is nothing to drain; start the job first`);
    const i = map.ps.findIndex((p) => p.id === n);
    if (i < 0) throw new TesseraError(ERROR_CODES.CONFIG, `${id} is not in job ${job}'s shard map v${map.version} (its PS: ${map.ps.map((p) => p.id).join(', ')}); name one of them`);
    if (map.ps.length === 1) throw new TesseraError(ERROR_CODES.CONFIG, `${id} is the only PS of job ${job}: no PS would be left to own its buckets; start another PS first`);
    const store = new EtcdJobStore({ client, job, logger });
    const requested = await store.requestDrain(id);
    const buckets = map.owner.reduce((k, o) => k + (o === i ? 1 : 0), 0);
    process.stdout.write(`${requested ? 'drain requested' : 'drain already requested'}: the chief moves the ${buckets} buckets of ${id} to the other PS; it exits 0 when it holds none\n`);
    const done = args.options.wait ? await drained(store, id, intOption(args, 'timeout', 600)) : false;
    if (args.options.wait) process.stdout.write(done ? `drained: ${id} owns no bucket\n` : `${id} was not drained within --timeout ${o.timeout} s; the request stands\n`);
    if (args.options.json) process.stdout.write(`${JSON.stringify({ ps: id, requested, buckets, done })}\n`);
    return args.options.wait && !done ? 1 : 0;
  } finally {
    client.close();
  }
}
