/**
 * `tessera certs init|issue`: a job's CA and the certificates of its processes, for mutual TLS
 * (`--tls-cert/--tls-key/--tls-ca` on every role). Certificates carry the URI SAN
 * `spiffe://tessera/<job>/<role>/<id>`; the PS authorizes callers by that role. Issuing again
 * over the same files is how a certificate is renewed: running processes re-read them.
 */
import * as path from 'node:path';
import { certExpiry, DEFAULT_CERT_DAYS, initCertDir, issueCert } from '../common/cert-issuer';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { IDENTITY_ROLES, IdentityRole } from '../common/spiffe-id';
import { helpText, intOption, OptionSpec, parseArgs } from '../runtime/args';

const SPEC: Record<string, OptionSpec> = {
  dir: { type: 'string', describe: 'directory of the CA (ca.crt, ca.key) and the certificates' },
  job: { type: 'string', describe: 'the job the certificates belong to' },
  role: { type: 'string', describe: `issue: the holder's role (${IDENTITY_ROLES.join(', ')})` },
  id: { type: 'string', describe: 'issue: the holder\'s id (ps-0, worker-3, alice)' },
  ps: { type: 'string', describe: 'init: PS certificates ps-0 … (default 2)', default: '2' },
  workers: { type: 'string', describe: 'init: worker certificates (default 2)', default: '2' },
  chiefs: { type: 'string', describe: 'init: chief certificates (default 1)', default: '1' },
  hosts: { type: 'string', describe: 'extra DNS names or IPs in the certificates, comma-separated (localhost and 127.0.0.1 are always in)' },
  days: { type: 'string', describe: 'days the certificates are valid', default: String(DEFAULT_CERT_DAYS) },
  json: { type: 'boolean', describe: 'print one JSON object summarising the result as the last line' },
};

/** `tessera certs --help`. */
export const CERTS_HELP = helpText('tessera certs init --dir D --job J [--ps N --workers M] | issue --dir D --job J --role R --id I',
  'init   creates a CA in D (unless D has one: bring your own ca.crt and ca.key) and certificates\n'
  + '       ps-<i>, worker-<i>, chief-<i>, admin and etcd-server for a local cluster\n'
  + 'issue  adds (or renews) one certificate <role>-<id>.crt/.key signed by D\'s CA', SPEC);

/** Runs `tessera certs`; resolves with the exit code. */
export async function runCerts(argv: string[]): Promise<number> {
  const args = parseArgs(argv, SPEC);
  const o = args.options as Record<string, string | undefined>;
  const [sub] = args.positional;
  if (!o.dir || !o.job) throw new TesseraError(ERROR_CODES.CONFIG, 'tessera certs needs --dir D and --job J');
  const dir = path.resolve(o.dir);
  const days = intOption(args, 'days', 1);
  const hosts = (o.hosts ?? '').split(',').map((h) => h.trim()).filter(Boolean);
  let issued;
  if (sub === 'init') {
    issued = (await initCertDir(dir, o.job, { ps: intOption(args, 'ps', 0), workers: intOption(args, 'workers', 0), chiefs: intOption(args, 'chiefs', 0), hosts, days })).certs;
  } else if (sub === 'issue') {
    if (!o.role || !(IDENTITY_ROLES as readonly string[]).includes(o.role)) {
      throw new TesseraError(ERROR_CODES.CONFIG, `--role must be one of ${IDENTITY_ROLES.join(', ')}, got "${o.role ?? ''}"`);
    }
    if (!o.id) throw new TesseraError(ERROR_CODES.CONFIG, 'tessera certs issue needs --id I');
    issued = [await issueCert(dir, { identity: { job: o.job, role: o.role as IdentityRole, id: o.id }, hosts, notAfter: new Date(Date.now() + days * 86_400_000) })];
  } else {
    throw new TesseraError(ERROR_CODES.CONFIG, `tessera certs: unknown subcommand "${sub ?? ''}" (init or issue)`);
  }
  const rows = issued.map((c) => ({ ...c, expires: certExpiry(c.cert).toISOString() }));
  for (const r of rows) process.stdout.write(`${path.basename(r.cert).padEnd(24)} ${(r.uri ?? '(etcd server)').padEnd(44)} expires ${r.expires}\n`);
  if (args.options.json === true) process.stdout.write(`${JSON.stringify({ dir, ca: path.join(dir, 'ca.crt'), certs: rows })}\n`);
  return 0;
}
