/**
 * `tessera status --etcd URL --job NAME`: what etcd says about a job — members and their
 * addresses, the elected chief, the shard-map version and how buckets are spread, the job's
 * epoch, step, samples/s, loss and evals, the latest checkpoint, and each data shard's worker and
 * position. `--json` prints the same status record the chief's status page reads from
 * `/api/status` (src/chief/status-record.ts), without the page's live additions, plus each PS's
 * replication lag when the job replicates (`replication`: asked of the PS themselves).
 */
import type { Etcd3 } from 'etcd3';
import { checkEtcdReachable, createEtcdClient } from '../runtime/etcd-client';
import { KEY_ROOT } from '../membership/keys';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { silentLogger } from '../common/logger';
import { EtcdMembership } from '../membership/etcd-membership';
import { LeaderElection } from '../membership/leader';
import { ShardMapStore } from '../membership/shard-map-store';
import { EtcdJobStore } from '../control/etcd-job-store';
import { statusRecord, statusSources } from '../chief/status-record';
import { helpText, OptionSpec, noPositional, parseArgs } from '../runtime/args';
import { ETCD_JOB_OPTIONS, loadSecurity, SECURITY_OPTIONS } from '../runtime/security-options';
import { replicaLagLine, replicaLags } from './replica-lags';

const SPEC: Record<string, OptionSpec> = {
  ...ETCD_JOB_OPTIONS,
  json: { type: 'boolean', describe: 'print the status as one JSON object (-o json is the same)' },
  list: { type: 'boolean', describe: 'list the jobs etcd holds (no --job needed)' },
  'tls-cert': SECURITY_OPTIONS['tls-cert'],
  'tls-key': SECURITY_OPTIONS['tls-key'],
  'tls-ca': SECURITY_OPTIONS['tls-ca'],
};

export const STATUS_HELP = helpText('tessera status --etcd URL (--job NAME | --list) [--json] [--etcd-cert F --etcd-key F --etcd-ca F]',
  'Shows a job\'s members, its chief and its shard map, as recorded in etcd; --list names the\n'
  + 'jobs there. Exits 1 for a job etcd does not hold (naming the jobs it does). An https etcd with\n'
  + 'client-certificate auth (tessera local --tls, the k8s tls component) needs --etcd-* (or --tls-*: the admin certificate).', SPEC);

/** The names of the jobs etcd holds (anything under the key root), sorted. */
async function listJobs(client: Etcd3): Promise<string[]> {
  const keys = await client.getAll().prefix(KEY_ROOT).keys();
  return [...new Set(keys.map((k) => k.slice(KEY_ROOT.length).split('/')[0]).filter(Boolean))].sort();
}

/** How long to wait for etcd before reporting it unreachable. */
const ETCD_TIMEOUT_MS = 5_000;

export async function runStatus(argv: string[]): Promise<number> {
  const args = parseArgs(argv, SPEC);
  noPositional(args);
  const o = args.options as Record<string, string | undefined>;
  const etcd = o.etcd ?? process.env.TESSERA_ETCD;
  const job = o.job ?? process.env.TESSERA_JOB ?? '';
  if (!etcd || (!job && !args.options.list)) throw new TesseraError(ERROR_CODES.CONFIG, '--etcd URL and --job NAME (or --list) are required');
  const security = loadSecurity(process.env, args.options, etcd);
  const credentials = security.etcd;
  if (!credentials) await checkEtcdReachable(etcd, '--etcd', ETCD_TIMEOUT_MS);
  const client = createEtcdClient(etcd, { dialTimeoutMs: ETCD_TIMEOUT_MS, credentials });
  const jobs = await listJobs(client).catch((err: Error) => {
    client.close();
    throw new TesseraError(ERROR_CODES.UNAVAILABLE, `cannot read the jobs from etcd at ${etcd}: ${err.message.split('\n')[0]}`
      + `${credentials ? ' (an https etcd with client-certificate auth needs --etcd-cert/--etcd-key, or --tls-*)' : ''}`);
  });
  if (args.options.list || !jobs.includes(job)) {
    client.close();
    if (args.options.list) {
      process.stdout.write(args.options.json ? `${JSON.stringify({ jobs })}\n` : jobs.map((j) => `${j}\n`).join(''));
      return 0;
    }
    process.stderr.write(`tessera status: no job ${job} in etcd at ${etcd}; ${jobs.length > 0 ? `its jobs: ${jobs.join(', ')}` : 'it holds no jobs'}\n`);
    return 1;
  }
  const logger = silentLogger();
  const membership = new EtcdMembership({ client, job, logger });
  try {
    const status = statusRecord(await Promise.race([
      statusSources({
        job, membership, leader: () => new LeaderElection({ client, job, logger }).leader(), shardMap: () => new ShardMapStore({ client, job, logger }).get(),
        store: new EtcdJobStore({ client, job, logger }),
      }),
      new Promise<never>((_, reject) => setTimeout(() => reject(new TesseraError(ERROR_CODES.UNAVAILABLE, `etcd at ${etcd} did not answer within ${ETCD_TIMEOUT_MS} ms`)), ETCD_TIMEOUT_MS).unref()),
    ]).catch((err: Error) => {
      if (err instanceof TesseraError) throw err;
      throw new TesseraError(ERROR_CODES.UNAVAILABLE, `cannot read job "${job}" from etcd at ${etcd}: ${err.message.split('\n')[0]}`);
    }));
    const replication = await replicaLags(status.shard_map?.ps ?? [], security.tls);
    if (args.options.json) {
      process.stdout.write(`${JSON.stringify({ ...status, replication })}\n`);
    } else {
      const lines = [`job ${job}`, `chief: ${status.chief ?? '(none elected)'}`, `members (${status.members.length}):`];
      for (const m of status.members) lines.push(`  ${m.role.padEnd(6)} ${m.id.padEnd(12)} ${m.addr}  since ${m.startedAt}`);
      lines.push(status.shard_map
        ? `shard map v${status.shard_map.version}: ${status.shard_map.num_buckets} buckets over ${status.shard_map.ps.map((p) => `ps ${p.id} (${p.buckets})`).join(', ')}`
        : 'shard map: (none published)');
      const rep = replicaLagLine(replication);
      if (rep) lines.push(rep);
      const mig = status.migration;
      if (mig) {
        lines.push(`migration ${mig.id} (${mig.phase}, since ${mig.started_at}): ${mig.buckets} of ${mig.of} buckets moving, v${mig.from_version} → v${mig.to_version}: `
          + mig.moves.map((x) => `ps ${x.from} → ps ${x.to} (${x.buckets})`).join(', '));
      }
      for (const d of status.drains) lines.push(`drain ${d.ps}: ${d.done ? 'done: it owns no bucket and exits' : 'requested'} (${d.at})`);
      const pr = status.progress;
      lines.push(pr
        ? `job: epoch ${pr.epoch}/${pr.epochs} ${pr.phase}, step ${pr.step}, ${pr.samples} samples, ${pr.samples_per_s.toFixed(0)} samples/s`
          + `${pr.loss === null ? '' : `, loss ${pr.loss.toFixed(4)}`}${pr.last_eval ? `, last eval AUC ${pr.last_eval.auc.toFixed(4)}` : ''}`
          + `${pr.push_staleness_p99 === null ? '' : `, push staleness p99 ${pr.push_staleness_p99} updates`}`
        : 'job: (not started)');
      for (const sh of status.shards) {
        lines.push(`  shard ${String(sh.shard).padStart(3)} ${sh.done ? 'done' : sh.worker ? `→ ${sh.worker}` : 'pending'}  ${sh.rows} rows, at byte ${sh.next} of [${sh.start}, ${sh.end})`);
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    }
    return 0;
  } finally {
    await membership.close();
    client.close();
  }
}
