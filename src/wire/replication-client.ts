/**
 * Calls to tessera.v1.PsReplication (issue 17): a PS streaming batches to its buddy (one channel
 * kept open per buddy), and the chief configuring buddies, promoting a replica and reading the
 * lag. The channel is made like every PS-to-PS channel (migration-client.ts), so transport
 * security is added the same way.
 */
import * as grpc from '@grpc/grpc-js';
import { clientChannelOptions, DEFAULT_MAX_REQUEST_BYTES } from './grpc-options';
import { psReplicationService } from './services';
import { fromServiceError } from './status-map';

type AnyClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

/** The PsReplication methods. */
export type ReplicationMethod = 'Replicate' | 'ConfigureReplication' | 'PromoteReplica' | 'ReplicationStatus';

/** A PsReplication client on its own channel to `addr`, presenting `credentials` (absent: plaintext). */
export function replicationClient(addr: string, credentials?: grpc.ChannelCredentials): AnyClient {
  const Ctor = psReplicationService();
  return new Ctor(addr, credentials ?? grpc.credentials.createInsecure(), clientChannelOptions(DEFAULT_MAX_REQUEST_BYTES * 2)) as unknown as AnyClient;
}

/** Calls `method` on an open `client` of the PS at `addr`; rejects with the TesseraError naming `addr`. */
export function replicationCallOn<Res>(client: AnyClient, addr: string, method: ReplicationMethod, req: object, timeoutMs: number): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    client[method](req, { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, res: Res) => (err ? reject(fromServiceError(err, addr)) : resolve(res)));
  });
}

/** One call of `method` on the PS at `addr` on a channel of its own (the chief's calls). */
export async function replicationCall<Res = Record<string, number>>(addr: string, method: ReplicationMethod, req: object, opts: { credentials?: grpc.ChannelCredentials; timeoutMs?: number } = {}): Promise<Res> {
  const c = replicationClient(addr, opts.credentials);
  try {
    return await replicationCallOn<Res>(c, addr, method, req, opts.timeoutMs ?? 30_000);
  } finally {
    c.close();
  }
}
