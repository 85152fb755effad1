/**
 * EtcdMembership: {@link Membership} over etcd leases and watches (never polling). Keys live under
 * `client.namespace('/tessera/<job>/')`; docs/etcd-keys.md describes them.
 */
import type { Namespace } from 'etcd3';
import { BackoffOptions, DEFAULT_BACKOFF } from '../common/backoff';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { childLogger, Logger } from '../common/logger';
import { watchMembers, readMembers } from './etcd-member-watch';
import { EtcdRegistration } from './etcd-registration';
import type { Role } from '../common/roles';
import { jobPrefix, validateMemberId, validateRole } from './keys';
import { Member, MemberWatch, Membership, MembershipEvent, Registration } from './membership';

/**
 * Default member lease TTL. A dead process drops out of membership within this time (plus etcd's
 * ~0.5 s expiry sweep); etcd3 renews every TTL/3, so 5 s rides out a ~3 s stall (a GC pause or an
 * etcd leader change) without a spurious `lost`.
 */
export const DEFAULT_LEASE_TTL_S = 5;

/** Dependencies of {@link EtcdMembership}, injected: no process-global client or clock. */
export interface EtcdMembershipDeps {
  /** An etcd3 client (or any namespace of one). Not closed by `close()`: the caller owns it. */
  client: Namespace;
  /** Job name; keys go under `/tessera/<job>/`. */
  job: string;
  logger: Logger;
  /** Member lease TTL in whole seconds, >= 1. Default {@link DEFAULT_LEASE_TTL_S}. */
  leaseTtlS?: number;
  /** Backoff between re-registration attempts. Default DEFAULT_BACKOFF. */
  backoff?: BackoffOptions;
  /** Clock for `startedAt`. */
  now?: () => Date;
  /** "host:port" of this process's Prometheus /metrics, recorded with every registration (scrape discovery). */
  metricsAddr?: string;
}

/**
 * Membership backed by etcd.
 *
 * ```ts
 * const client = new Etcd3({ hosts: 'http://127.0.0.1:2379' });
 * const membership = new EtcdMembership({ client, job: 'criteo', logger });
 * const reg = await membership.register('worker', 'w-1', '10.0.0.7:7100');
 * reg.on('lost', () => trainer.pause());
 * // ... on shutdown: revoke leases first (etcd3's close() would leave keepalives running)
 * await membership.close();
 * client.close();
 * ```
 */
export class EtcdMembership implements Membership {
  /** The job namespace, `/tessera/<job>/`. */
  readonly ns: Namespace;
  private readonly deps: Required<Omit<EtcdMembershipDeps, 'client' | 'job' | 'metricsAddr'>> & Pick<EtcdMembershipDeps, 'metricsAddr'>;
  private readonly registrations = new Set<Registration>();
  private readonly watches = new Set<MemberWatch>();
  private closed = false;

  constructor(deps: EtcdMembershipDeps) {
    this.ns = deps.client.namespace(jobPrefix(deps.job));
    const leaseTtlS = deps.leaseTtlS ?? DEFAULT_LEASE_TTL_S;
    if (!Number.isInteger(leaseTtlS) || leaseTtlS < 1) {
      throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `leaseTtlS must be an integer >= 1 (got ${leaseTtlS})`);
    }
    this.deps = {
      logger: childLogger(deps.logger, { component: 'membership', job: deps.job }),
      leaseTtlS,
      backoff: deps.backoff ?? DEFAULT_BACKOFF,
      now: deps.now ?? (() => new Date()),
      metricsAddr: deps.metricsAddr,
    };
  }

  async register(role: Role, id: string, addr: string): Promise<Registration> {
    this.checkOpen();
    validateRole(role);
    validateMemberId(id);
    const reg = await EtcdRegistration.create({ ns: this.ns, ...this.deps }, role, id, addr);
    this.registrations.add(reg);
    return reg;
  }

  async list(role?: Role): Promise<Member[]> {
    if (role !== undefined) validateRole(role);
    return (await readMembers(this.ns, role, this.deps.logger)).members;
  }

  async watch(role: Role | undefined, onChange: (ev: MembershipEvent) => void): Promise<MemberWatch> {
    this.checkOpen();
    if (role !== undefined) validateRole(role);
    const w = await watchMembers(this.ns, role, onChange, this.deps.logger);
    const tracked: MemberWatch = {
      snapshot: w.snapshot,
      stop: async () => {
        this.watches.delete(tracked);
        await w.stop();
      },
    };
    this.watches.add(tracked);
    return tracked;
  }

  /** Stops every watch and revokes every lease made here. Does not close the client. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.watches].map((w) => w.stop()));
    await Promise.all([...this.registrations].map((r) => r.close()));
    this.registrations.clear();
  }

  private checkOpen(): void {
    if (this.closed) throw new TesseraError(ERROR_CODES.UNAVAILABLE, 'membership is closed', { retryable: false });
  }
}
