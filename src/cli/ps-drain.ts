/**
 * `tessera ps drain ID --etcd URL --job NAME`: asks the job's chief to move every bucket of PS
 * `ID` to the other PS while training goes on (live resharding, issue 17). It records
 * `drain/<ID>` in etcd and returns; the chief migrates the buckets, marks the drain done, and the
 * PS then exits 0. `--id ID [--shards K]` instead of `ID` names every PS of the process
 * `tessera ps --id ID --shards K` runs, read like `tessera ps` reads them (`{ordinal}` from
 * TESSERA_POD_NAME, K from TESSERA_PS_SHARDS): what the Kubernetes preStop hook of a PS pod runs,
 * with `--wait`, so the pod is deleted only once it holds nothing.
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import { Logger, silentLogger } from '../common/logger';
import type { ClusterLink } from '../runtime/role-runtime';
import { EtcdJobStore } from '../control/etcd-job-store';
import { validateMemberId } from '../membership/keys';
import { ShardMapStore } from '../membership/shard-map-store';
import { psNumber } from '../chief/ps-set';
import type { JobSnapshot } from '../control/job-store';
import { loadPsConfig } from '../ps/config';
import { shardMemberIds } from '../ps/shard-layout';
import { helpText, intOption, OptionSpec, parseArgs } from '../runtime/args';
import { checkEtcdReachable, createEtcdClient } from '../runtime/etcd-client';
import { ETCD_JOB_OPTIONS, loadSecurity } from '../runtime/security-options';

const SPEC: Record<string, OptionSpec> = {
  ...ETCD_JOB_OPTIONS,
  id: { type: 'string', describe: 'instead of ID: drain every PS of the process `tessera ps --id ID --shards K` runs ({ordinal} from TESSERA_POD_NAME) [TESSERA_PS_ID]' },
  shards: { type: 'string', describe: 'with --id: the shards of that process (default as tessera ps) [TESSERA_PS_SHARDS]' },
  json: { type: 'boolean', describe: 'end with one JSON line {"ps", "requested", "buckets", "done", "outcome"}' },
  wait: { type: 'boolean', describe: 'return only once the chief has moved every bucket away (a Kubernetes preStop hook waits so)' },
  timeout: { type: 'string', describe: 'with --wait: give up after this many seconds (exit 1)', default: '600' },
};

/** `tessera ps drain --help`. */
export const PS_DRAIN_HELP = helpText('tessera ps drain ID|--id ID [--shards K] --etcd URL --job NAME [--wait [--timeout S]] [--json]',
  'Asks the chief to move every bucket of parameter server ID (its member id, e.g. ps-2) to the\n'
  + 'other PS while the job trains; the PS exits 0 once it holds nothing. Returns once the request\n'
  + 'is recorded, or with --wait once the drain is done (or the job ended, or every PS is draining:\n'
  + 'nothing is left to take the buckets); `tessera status` shows the migration.', SPEC);

/** How a wait for drains ended: done, or nothing more will move (the job ended, every PS of the map drains). */
export type DrainOutcome = 'done' | 'job-ended' | 'all-draining';

/**
 * Whether the drains of `ids` are over in `snap`: every record done (or gone: done, the PS left
 * and the chief forgot it), the job done or failed (no chief moves buckets any more), or every
 * PS of the map (its numbers, `mapPs`) asked to drain (as when a whole StatefulSet is deleted:
 * nothing is left to take the buckets). Undefined while the chief may still move them.
 */
export function drainOutcome(snap: Pick<JobSnapshot, 'drains' | 'state'>, ids: readonly string[], mapPs: readonly number[]): DrainOutcome | undefined {
  if (ids.every((id) => snap.drains.get(id)?.done ?? true)) return 'done';
  if (snap.state?.phase === 'done' || snap.state?.phase === 'failed') return 'job-ended';
  const draining = new Set([...snap.drains.keys()].filter((id) => /\d$/.test(id)).map(psNumber));
  if (mapPs.every((n) => draining.has(n))) return 'all-draining';
  return undefined;
}

/** Resolves with the drains' outcome, re-read on every change of the job's records; undefined after `timeoutS`. */
async function drained(store: EtcdJobStore, ids: readonly string[], mapPs: readonly number[], timeoutS: number): Promise<DrainOutcome | undefined> {
  let settle!: (o: DrainOutcome | undefined) => void;
  const result = new Promise<DrainOutcome | undefined>((resolve) => { settle = resolve; });
  const timer = setTimeout(() => settle(undefined), timeoutS * 1000);
  const check = (): void => { store.snapshot().then((snap) => { const o = drainOutcome(snap, ids, mapPs); if (o) settle(o); }, () => undefined); };
  const watch = await store.watch(check);
  check(); // a change before the watch began
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

/** The member ids to drain: the one positional ID, or every PS of the process `--id ID --shards K` names. */
function drainIds(positional: string[], o: Record<string, string | undefined>): string[] {
  if (positional.length === 1 && o.id === undefined) return [validateMemberId(positional[0], 'ID')];
  if (positional.length === 0 && (o.id !== undefined || process.env.TESSERA_PS_ID !== undefined)) {
    const config = loadPsConfig(process.env, { id: o.id, shards: o.shards });
    return shardMemberIds(validateMemberId(config.id, '--id'), config.shards);
  }
  throw new TesseraError(ERROR_CODES.CONFIG, 'tessera ps drain takes one PS id, or --id naming a PS process (e.g. tessera ps drain ps-2 --etcd URL --job NAME)');
}

/** Records the drain requests; exit code 0, or a CONFIG error naming what is wrong. */
export async function runPsDrain(argv: string[]): Promise<number> {
  const args = parseArgs(argv, SPEC);
  const o = args.options as Record<string, string | undefined>;
  const etcd = o.etcd ?? process.env.TESSERA_ETCD;
  const job = o.job ?? process.env.TESSERA_JOB;
  const ids = drainIds(args.positional, o);
  const timeoutS = intOption(args, 'timeout', 1); // checked before anything is recorded
  if (!etcd || !job) throw new TesseraError(ERROR_CODES.CONFIG, 'tessera ps drain needs --etcd URL and --job NAME');
  const credentials = loadSecurity(process.env, args.options, etcd).etcd;
  if (!credentials) await checkEtcdReachable(etcd, '--etcd', ETCD_TIMEOUT_MS);
  const client = createEtcdClient(etcd, { dialTimeoutMs: ETCD_TIMEOUT_MS, credentials });
  const logger = silentLogger();
  const name = ids.join(', ');
  try {
    const map = await new ShardMapStore({ client, job, logger }).get();
    if (!map) throw new TesseraError(ERROR_CODES.CONFIG, `job ${job} has no shard map yet: there is nothing to drain; start the job first`);
    const at = ids.map((id) => map.ps.findIndex((p) => p.id === psNumber(id)));
    const missing = ids.filter((_, k) => at[k] < 0);
    if (missing.length > 0) throw new TesseraError(ERROR_CODES.CONFIG, `${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not in job ${job}'s shard map v${map.version} (its PS: ${map.ps.map((p) => p.id).join(', ')}); name one of them`);
    if (map.ps.length === ids.length) throw new TesseraError(ERROR_CODES.CONFIG, `${name}: every PS of job ${job}: no PS would be left to own the buckets; start another PS first`);
    const store = new EtcdJobStore({ client, job, logger });
    const requested = (await Promise.all(ids.map((id) => store.requestDrain(id)))).some(Boolean);
    const buckets = map.owner.reduce((k, i) => k + (at.includes(i) ? 1 : 0), 0);
    process.stdout.write(`${requested ? 'drain requested' : 'drain already requested'}: the chief moves the ${buckets} buckets of ${name} to the other PS; it exits 0 when it holds none\n`);
    const outcome = args.options.wait ? await drained(store, ids, map.ps.map((p) => p.id), timeoutS) : undefined;
    if (args.options.wait) process.stdout.write(`${waitLine(name, outcome, o.timeout)}\n`);
    const ps = ids.length === 1 ? ids[0] : ids;
    if (args.options.json) process.stdout.write(`${JSON.stringify({ ps, requested, buckets, done: outcome === 'done', ...(outcome ? { outcome } : {}) })}\n`);
    return args.options.wait && !outcome ? 1 : 0;
  } finally {
    client.close();
  }
}

/** The line `--wait` ends with. */
function waitLine(name: string, outcome: DrainOutcome | undefined, timeout: string | undefined): string {
  switch (outcome) {
    case 'done': return `drained: ${name} owns no bucket`;
    case 'job-ended': return `the job ended: nothing moves ${name}'s buckets any more; not waiting`;
    case 'all-draining': return `every PS of the job is draining: nothing is left to take ${name}'s buckets; not waiting`;
    default: return `${name} was not drained within --timeout ${timeout} s; the request stands`;
  }
}
