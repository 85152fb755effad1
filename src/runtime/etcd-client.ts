/**
 * The one way Tessera opens an etcd client. etcd3's defaults suit a long-lived client badly
 * here: its per-host circuit breaker opens after 3 consecutive recoverable errors (cancelling
 * three watches in a row is enough) and then refuses every call to that host for 5 s, even once
 * etcd answers again; and a dropped watch backs off up to 30 s before reconnecting. So:
 * - one host: no breaker (there is no other host to fail over to; callers retry themselves);
 * - several hosts: a breaker that half-opens after 1 s;
 * - watches reconnect with backoff from 100 ms up to 2 s.
 */
import { circuitBreaker, ConsecutiveBreaker, ExponentialBackoff, handleWhen, noop } from 'cockatiel';
import { Etcd3, isRecoverableError } from 'etcd3';
import { ERROR_CODES, TesseraError } from '../common/errors';

type WatchBackoff = NonNullable<NonNullable<ConstructorParameters<typeof Etcd3>[0]>['faultHandling']>['watchBackoff'];

/**
 * Opens an etcd3 client on comma-separated `hosts` with the fault handling above; `credentials`
 * (CA, and a client certificate for etcd's --client-cert-auth) for https:// endpoints.
 */
export function createEtcdClient(
  hosts: string | readonly string[],
  opts: { dialTimeoutMs?: number; credentials?: { rootCertificate: Buffer; privateKey?: Buffer; certChain?: Buffer } } = {},
): Etcd3 {
  const list = (typeof hosts === 'string' ? hosts.split(',') : [...hosts]).map((h) => h.trim()).filter(Boolean);
  return new Etcd3({
    hosts: list,
    dialTimeout: opts.dialTimeoutMs ?? 5_000,
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
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
