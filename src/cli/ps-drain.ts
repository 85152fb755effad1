/**
 * `tessera ps drain ID --etcd URL --job NAME`: asks the job's chief to move every bucket of PS
 * `ID` to the other PS while training goes on (live resharding, issue 17). It records
 * `drain/<ID>` in etcd and returns; the chief migrates the buckets, marks the drain done, and the
 * PS then exits 0. A Kubernetes preStop hook runs the same command.
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import { silentLogger } from '../common/logger';
import { EtcdJobStore } from '../control/etcd-job-store';
import { validateMemberId } from '../membership/keys';
import { ShardMapStore } from '../membership/shard-map-store';
import { psNumber } from '../chief/ps-set';
import { helpText, OptionSpec, parseArgs } from '../runtime/args';
import { checkEtcdReachable, createEtcdClient } from '../runtime/etcd-client';
import { ETCD_JOB_OPTIONS, loadSecurity } from '../runtime/security-options';

const SPEC: Record<string, OptionSpec> = {
  ...ETCD_JOB_OPTIONS,
  json: { type: 'boolean', describe: 'end with one JSON line {"ps", "requested", "buckets"}' },
};

/** `tessera ps drain --help`. */
export const PS_DRAIN_HELP = helpText('tessera ps drain ID --etcd URL --job NAME [--json]',
  'Asks the chief to move every bucket of parameter server ID (its member id, e.g. ps-2) to the\n'
  + 'other PS while the job trains; the PS exits 0 once it holds nothing. Returns once the request\n'
  + 'is recorded; `tessera status` shows the migration.', SPEC);

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
    const requested = await new EtcdJobStore({ client, job, logger }).requestDrain(id);
    const buckets = map.owner.reduce((k, o) => k + (o === i ? 1 : 0), 0);
    process.stdout.write(`${requested ? 'drain requested' : 'drain already requested'}: the chief moves the ${buckets} buckets of ${id} to the other PS; it exits 0 when it holds none\n`);
    if (args.options.json) process.stdout.write(`${JSON.stringify({ ps: id, requested, buckets })}\n`);
    return 0;
  } finally {
    client.close();
  }
}
