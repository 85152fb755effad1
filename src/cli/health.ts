/**
 * `tessera health`: one health probe of a Tessera port, for Kubernetes exec probes when the
 * ports require mutual TLS. The kubelet's own gRPC and HTTPS probes present no client
 * certificate, so a server started with `--tls-*` refuses them; this command presents the pod's
 * own certificate (any role of the job may call Health) and asks:
 * - `--addr HOST:PORT`: grpc.health.v1.Health/Check (`--service NAME`, default the whole server);
 * - `--url URL`: an HTTP(S) GET, e.g. serving's `/v2/health/ready`.
 * Exit 0 when SERVING (or a 2xx answer), 1 otherwise with one line saying what it got; 2 for bad flags.
 *
 * ```sh
 * tessera health --addr 127.0.0.1:7000 --tls-cert /etc/tessera/tls/tls.crt --tls-key /etc/tessera/tls/tls.key --tls-ca /etc/tessera/tls/ca.crt
 * ```
 */
import * as grpc from '@grpc/grpc-js';
import { isIP } from 'node:net';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { helpText, intOption, noPositional, OptionSpec, parseArgs } from '../runtime/args';
import { SECURITY_OPTIONS } from '../runtime/security-options';
import { healthService } from '../wire/services';
import { fromServiceError } from '../wire/status-map';
import { httpsClientOptions, loadTlsConfig, openTls, TlsConfig } from '../wire/tls';
import { requestJson } from './admin-http';
import { EXIT } from './user-errors';

/** How long a probe waits by default; Kubernetes' own probe timeout is 1 s unless set. */
const DEFAULT_TIMEOUT_MS = 3_000;

/** Options of `tessera health`. */
export const HEALTH_SPEC: Record<string, OptionSpec> = {
  addr: { type: 'string', describe: 'gRPC address to ask grpc.health.v1.Health/Check (HOST:PORT)' },
  service: { type: 'string', describe: 'the service to check (default "": the whole server)' },
  url: { type: 'string', describe: 'instead of --addr: an HTTP(S) URL to GET, healthy on a 2xx answer' },
  'timeout-ms': { type: 'string', describe: 'how long to wait, ms', default: String(DEFAULT_TIMEOUT_MS) },
  'tls-cert': { ...SECURITY_OPTIONS['tls-cert'], describe: 'a certificate of the job (the pod\'s own) for a server that requires mutual TLS [TESSERA_TLS_CERT]' },
  'tls-key': SECURITY_OPTIONS['tls-key'],
  'tls-ca': SECURITY_OPTIONS['tls-ca'],
};

/** Help text of `tessera health`. */
export const HEALTH_HELP = helpText('tessera health (--addr HOST:PORT [--service NAME] | --url URL) [--tls-cert F --tls-key F --tls-ca F] [--timeout-ms MS]',
  'One health probe (Kubernetes exec probes of mutual-TLS ports): exit 0 when serving, 1 otherwise.', HEALTH_SPEC);

function checkGrpc(addr: string, service: string, tls: TlsConfig | null, timeoutMs: number): Promise<string> {
  const ctx = tls ? openTls(tls) : null;
  // A probe dials 127.0.0.1; Node warns (DEP0123) on every run when TLS's server name is an IP
  // address. The server is accepted by the job in its certificate, never by host name.
  const options = ctx && isIP(addr.replace(/:\d+$/, '').replace(/^\[|\]$/g, '')) ? { 'grpc.ssl_target_name_override': 'localhost' } : {};
  const client = new (healthService())(addr, ctx ? ctx.channelCredentials() : grpc.credentials.createInsecure(), options) as unknown as grpc.Client & {
    Check(req: { service: string }, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: { status: string }) => void): void;
  };
  return new Promise<string>((resolve, reject) => {
    client.Check({ service }, { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(fromServiceError(err, addr)) : resolve(String(res?.status))));
  }).finally(() => {
    client.close();
    ctx?.close();
  });
}

/** Runs `tessera health`; resolves with the exit code. */
export async function runHealth(argv: string[]): Promise<number> {
  const args = parseArgs(argv, HEALTH_SPEC);
  noPositional(args);
  const o = args.options as Record<string, string | undefined>;
  if (!o.addr === !o.url) throw new TesseraError(ERROR_CODES.CONFIG, 'tessera health needs --addr HOST:PORT or --url URL (one of them)');
  const timeoutMs = intOption(args, 'timeout-ms', 1);
  const tls = loadTlsConfig(process.env, { cert: o['tls-cert'], key: o['tls-key'], ca: o['tls-ca'] });
  try {
    if (o.url) {
      await requestJson(o.url, 'GET', { tls: tls ? httpsClientOptions(tls) : undefined, timeoutMs });
      return EXIT.OK;
    }
    const status = await checkGrpc(o.addr!, o.service ?? '', tls, timeoutMs);
    if (status === 'SERVING') return EXIT.OK;
    process.stderr.write(`tessera health: ${o.addr}${o.service ? ` (${o.service})` : ''}: ${status}\n`);
  } catch (err) {
    if (!(err instanceof TesseraError) || err.code === ERROR_CODES.CONFIG) throw err;
    // grpc-js appends a multi-line "Resolution note"; a probe's output is one line.
    process.stderr.write(`tessera health: ${err.message.split('\n')[0].replace(/\s*Resolution note:\s*$/, '').trim()}\n`);
  }
  return EXIT.FAILED;
}
