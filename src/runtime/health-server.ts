/**
 * A gRPC server with only the health service, for roles that serve no other RPC (chief, worker),
 * so Kubernetes gRPC probes and `grpc_health_probe` work on every pod.
 */
import * as grpc from '@grpc/grpc-js';
import { ConnectionLimits, DEFAULT_CONNECTION_LIMITS, guardConnections } from '../wire/connection-guard';
import { HealthRegistry } from '../wire/health-service';
import { authorizationInterceptor } from '../wire/authorization';
import type { TlsContext } from '../wire/tls';

/** A running health-only gRPC server; `addr` is dialable (0.0.0.0 shown as 127.0.0.1). */
export interface HealthServer {
  readonly addr: string;
  readonly health: HealthRegistry;
  stop(): Promise<void>;
}

/**
 * Binds a health server on `host:port` (port 0: a free one), SERVING until stopped; `limits` guard
 * its connections; with `tls`, callers need a certificate of the same job.
 */
export async function startHealthServer(opts: { host?: string; port: number; limits?: ConnectionLimits; tls?: TlsContext }): Promise<HealthServer> {
  const server = new grpc.Server(opts.tls ? { interceptors: [authorizationInterceptor(opts.tls.config.identity.job)] } : {});
  const health = new HealthRegistry({ '': 'SERVING' });
  health.addTo(server);
  const host = opts.host ?? '127.0.0.1';
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${opts.port}`, opts.tls?.serverCredentials() ?? grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  guardConnections(server, opts.limits ?? DEFAULT_CONNECTION_LIMITS);
  return {
    addr: `${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    health,
    stop: () => new Promise<void>((resolve) => {
      health.set('', 'NOT_SERVING');
      health.close();
      server.tryShutdown(() => resolve());
    }),
  };
}
