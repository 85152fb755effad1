/**
 * The one way Tessera opens an etcd client. etcd3's defaults suit a long-lived client badly
 * here: its per-host circuit breaker opens after 3 consecutive recoverable errors (cancelling
 * three watches in a row is enough) and then refuses every call to that host for 5 s, even once
 * etcd answers again; and a dropped watch backs off up to 30 s before reconnecting. So:
 * - one host: no breaker (there is no other host to fail over to; callers retry themselves);
 * - several hosts: a breaker that half-opens after 1 s;
 * - watches reconnect with backoff from 100 ms up to 2 s.
 *
 * TLS (an https etcd): etcd3 would build its credentials from the file contents once, so a
 * renewed client certificate would only be used after a restart. Instead every channel etcd3
 * opens gets credentials from grpc-js's FileWatcherCertificateProvider (the same rotation the
 * gRPC ports use, src/wire/tls.ts): the files are re-read every `refreshMs`, and each new
 * connection presents the current certificate. The client object, its leases, watches and
 * elections stay as they are; an open connection keeps its TLS session until it reconnects.
 */
import * as grpc from '@grpc/grpc-js';
import { circuitBreaker, ConsecutiveBreaker, ExponentialBackoff, handleWhen, noop } from 'cockatiel';
import { Etcd3, isRecoverableError } from 'etcd3';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { DEFAULT_TLS_REFRESH_MS } from '../wire/tls';

type WatchBackoff = NonNullable<NonNullable<ConstructorParameters<typeof Etcd3>[0]>['faultHandling']>['watchBackoff'];

/** The files of an etcd client's TLS: etcd's CA, and a client certificate for its --client-cert-auth. */
export interface EtcdClientFiles {
  ca: string;
  cert?: string;
  key?: string;
  /** Re-read the files this often (ms); default DEFAULT_TLS_REFRESH_MS. */
  refreshMs?: number;
}

/**
 * grpc-js client options (public: ClientOptions.channelFactoryOverride) under which every channel
 * uses credentials that follow `files`. etcd3 passes its `grpcOptions` to each service client.
 */
function rotatingChannels(files: EtcdClientFiles): grpc.ClientOptions {
  const provider = new grpc.experimental.FileWatcherCertificateProvider({
    caCertificateFile: files.ca, certificateFile: files.cert, privateKeyFile: files.key, refreshIntervalMs: files.refreshMs ?? DEFAULT_TLS_REFRESH_MS,
  });
  const credentials = grpc.experimental.createCertificateProviderChannelCredentials(provider, files.cert ? provider : null);
  return { channelFactoryOverride: (address, _static, options) => new grpc.Channel(address, credentials, options) };
}

/**
 * Opens an etcd3 client on comma-separated `hosts` with the fault handling above; `credentials`
 * (the files of etcd's CA, and of a client certificate for etcd's --client-cert-auth) for
 * https:// endpoints, re-read for rotation.
 */
export function createEtcdClient(hosts: string | readonly string[], opts: { dialTimeoutMs?: number; credentials?: EtcdClientFiles } = {}): Etcd3 {
  const list = (typeof hosts === 'string' ? hosts.split(',') : [...hosts]).map((h) => h.trim()).filter(Boolean);
  return new Etcd3({
    hosts: list,
    dialTimeout: opts.dialTimeoutMs ?? 5_000,
    ...(opts.credentials ? { grpcOptions: rotatingChannels(opts.credentials) as grpc.ChannelOptions } : {}),
    faultHandling: {
      host: () => (list.length > 1
        ? circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 1_000, breaker: new ConsecutiveBreaker(3) })
        : noop),
      // etcd3 calls `.next()` on this to get the first delay, i.e. it wants cockatiel's backoff
      // factory; its .d.ts names the backoff type instead.
      watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 2_000 }) as unknown as WatchBackoff,
    },
  });
}

/**
 * Checks that etcd at `hosts` answers (one status call, at most `timeoutMs`), before a command
 * does any work that needs it; throws TESSERA_ERR_CONFIG naming the endpoint and the cause.
 */
export async function checkEtcdReachable(hosts: string, flag: string, timeoutMs = 5_000): Promise<void> {
  const client = createEtcdClient(hosts, { dialTimeoutMs: timeoutMs });
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs / 1000} s`)), timeoutMs); });
    await Promise.race([client.maintenance.status(), timeout]);
  } catch (err) {
    const msg = (err as Error).message ?? String(err);
    const cause = /connect (E[A-Z]+ \S+?)\.?(\s|$)/.exec(msg)?.[1] ?? msg.split('\n')[0];
    throw new TesseraError(ERROR_CODES.CONFIG, `cannot reach etcd at ${hosts} (${cause}); start etcd there, or fix ${flag}`);
  } finally {
    clearTimeout(timer);
    client.close();
  }
}
