/**
 * Joins a PS to a job in etcd: registers members/ps/<id> under a lease and fences the node
 * while the lease is lost. Lives beside main.ts, not in the data plane: PsNode only learns
 * "fenced" or "not fenced".
 */
import { createEtcdClient } from '../runtime/etcd-client';
import type { Logger } from '../common/logger';
import { EtcdMembership } from '../membership/etcd-membership';
import type { PsNode } from './ps-node';

export interface PsRegistration {
  incarnation: string;
  close(): Promise<void>;
}

/** Registers `id` at `addr` and wires lease loss to fencing. Rejects on a duplicate id. */
export async function registerPs(opts: { etcd: string; job: string; id: string; addr: string; leaseTtlS?: number; node: PsNode; logger: Logger; onFailed: (err: Error) => void }): Promise<PsRegistration> {
  const client = createEtcdClient(opts.etcd);
  const membership = new EtcdMembership({ client, job: opts.job, logger: opts.logger, leaseTtlS: opts.leaseTtlS });
  try {
    const reg = await membership.register('ps', opts.id, opts.addr);
    reg.on('lost', (ev) => opts.node.setFenced(`etcd lease of incarnation ${ev.incarnation} lost: ${ev.error.message}`));
    reg.on('reregistered', () => opts.node.setFenced(null));
    reg.on('failed', (err) => opts.onFailed(err));
    opts.logger.info({ job: opts.job, id: opts.id, addr: opts.addr, incarnation: reg.incarnation }, 'registered in etcd');
    return {
      incarnation: reg.incarnation,
      close: async () => {
        await membership.close(); // revokes the lease first: etcd3's close() alone keeps keepalives running
        client.close();
      },
    };
  } catch (err) {
    await membership.close();
    client.close();
    throw err;
  }
}
