/**
 * The security flags every role takes, read once (the certificate files they name are re-read
 * for rotation): mutual TLS for its gRPC ports (`--tls-cert/--tls-key/--tls-ca`, TESSERA_TLS_*),
 * client certificates for etcd (`--etcd-cert/--etcd-key/--etcd-ca`, TESSERA_ETCD_*; by default
 * the TLS files when the etcd URL is https), where /metrics listens (`--metrics-host`, default
 * the role's `--host`, itself 127.0.0.1 by default), and whether it is HTTPS (`--metrics-tls`).
 */
import { readFileSync } from 'node:fs';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { loadTlsConfig, TlsConfig } from '../wire/tls';
import type { OptionSpec } from './args';
import type { EtcdClientFiles } from './etcd-client';

/** The options of {@link loadSecurity}, merged into each role's option list. */
export const SECURITY_OPTIONS: Record<string, OptionSpec> = {
  'tls-cert': { type: 'string', describe: 'this process\'s certificate (PEM, URI SAN spiffe://tessera/<job>/<role>/<id>); with --tls-key and --tls-ca every gRPC port requires mutual TLS [TESSERA_TLS_CERT]' },
  'tls-key': { type: 'string', describe: 'the certificate\'s private key (PEM) [TESSERA_TLS_KEY]' },
  'tls-ca': { type: 'string', describe: 'the CA that signs the job\'s certificates (PEM); files are re-read every TESSERA_TLS_REFRESH_MS (5000) [TESSERA_TLS_CA]' },
  'etcd-cert': { type: 'string', describe: 'client certificate for etcd (default: --tls-cert when --etcd is https://) [TESSERA_ETCD_CERT]' },
  'etcd-key': { type: 'string', describe: 'its key (default: --tls-key when --etcd is https://) [TESSERA_ETCD_KEY]' },
  'etcd-ca': { type: 'string', describe: 'CA of etcd\'s server certificate (default: --tls-ca when --etcd is https://) [TESSERA_ETCD_CA]' },
  'metrics-tls': { type: 'boolean', describe: '/metrics over HTTPS with the --tls-* identity: scrapers present a client certificate of the job [TESSERA_METRICS_TLS=1]' },
  'metrics-host': { type: 'string', describe: 'address /metrics binds (default: --host, itself 127.0.0.1 by default); 0.0.0.0 lets other hosts scrape it (plaintext: metric names, tables, peers) [TESSERA_METRICS_HOST]' },
};

/** The options of a command that only reads or writes a job's records in etcd: where, which job, and etcd client certificates. */
export const ETCD_JOB_OPTIONS: Record<string, OptionSpec> = {
  etcd: { type: 'string', describe: 'etcd endpoints, comma-separated [TESSERA_ETCD]' },
  job: { type: 'string', describe: 'job name [TESSERA_JOB]' },
  'etcd-cert': SECURITY_OPTIONS['etcd-cert'],
  'etcd-key': SECURITY_OPTIONS['etcd-key'],
  'etcd-ca': SECURITY_OPTIONS['etcd-ca'],
};

/** What {@link loadSecurity} read. */
export interface Security {
  tls: TlsConfig | null;
  /** etcd's CA and this process's client certificate (checked readable; re-read for rotation). */
  etcd: EtcdClientFiles | undefined;
  /** Where /metrics binds when given (`--metrics-host`); absent: the role's `--host`. */
  metricsHost?: string;
  /** /metrics over HTTPS with client certificates (`--metrics-tls`; needs `tls`). */
  metricsTls: boolean;
}

function readable(flag: string, file: string): string {
  try {
    readFileSync(file);
    return file;
  } catch (err) {
    throw new TesseraError(ERROR_CODES.CONFIG, `--${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Reads the security options (flags, then environment); `etcdUrl` decides the etcd default. */
export function loadSecurity(env: NodeJS.ProcessEnv, o: Record<string, string | boolean | undefined>, etcdUrl?: string): Security {
  const s = (k: string) => (typeof o[k] === 'string' ? o[k] as string : undefined);
  const tls = loadTlsConfig(env, { cert: s('tls-cert'), key: s('tls-key'), ca: s('tls-ca') });
  const httpsEtcd = (etcdUrl ?? '').split(',').some((u) => u.trim().startsWith('https://'));
  const ca = s('etcd-ca') ?? env.TESSERA_ETCD_CA ?? (httpsEtcd ? tls?.ca : undefined);
  const cert = s('etcd-cert') ?? env.TESSERA_ETCD_CERT ?? (httpsEtcd ? tls?.cert : undefined);
  const key = s('etcd-key') ?? env.TESSERA_ETCD_KEY ?? (httpsEtcd ? tls?.key : undefined);
  if ((cert || key) && !ca) throw new TesseraError(ERROR_CODES.CONFIG, '--etcd-cert and --etcd-key need --etcd-ca (the CA of etcd\'s server certificate)');
  if (!!cert !== !!key) throw new TesseraError(ERROR_CODES.CONFIG, '--etcd-cert and --etcd-key go together');
  if (httpsEtcd && !ca) throw new TesseraError(ERROR_CODES.CONFIG, `etcd at ${etcdUrl} is https: give --etcd-ca (or --tls-ca)`);
  const etcd = ca ? {
    ca: readable('etcd-ca', ca), ...(cert && key ? { cert: readable('etcd-cert', cert), key: readable('etcd-key', key) } : {}), refreshMs: tls?.refreshMs,
  } : undefined;
  const metricsTls = o['metrics-tls'] === true || env.TESSERA_METRICS_TLS === '1';
  if (metricsTls && !tls) throw new TesseraError(ERROR_CODES.CONFIG, '--metrics-tls needs --tls-cert, --tls-key and --tls-ca (the identity /metrics presents)');
  return { tls, etcd, metricsHost: s('metrics-host') ?? env.TESSERA_METRICS_HOST, metricsTls };
}
