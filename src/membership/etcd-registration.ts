/**
 * One registration in etcd: a leased `members/<role>/<id>` key kept alive by etcd3's keepalive,
 * created only if absent (a transaction), and re-created under a new incarnation after the lease is
 * lost: the owner hears `lost` first (a PS fences itself), then `reregistered`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Lease, Namespace } from 'etcd3';
import { BackoffOptions, backoffDelay } from '../common/backoff';
import type { Logger } from '../common/logger';
import { callOptions } from './etcd-common';
import type { Role } from '../common/roles';
import { memberKey } from './keys';
import {
  DuplicateMemberError, Listeners, MemberValue, newMemberValue, parseMemberValue, Registration, RegistrationEvents,
} from './membership';

/** What an {@link EtcdRegistration} needs from its EtcdMembership. */
export interface EtcdRegistrationDeps {
  /** The job namespace (`/tessera/<job>/`). */
  ns: Namespace;
  logger: Logger;
  /** Lease TTL in seconds (etcd3 sends keepalives every TTL/3). */
  leaseTtlS: number;
  /** Backoff between re-registration attempts while etcd is unreachable. */
  backoff: BackoffOptions;
  now: () => Date;
  /** "host:port" of this process's /metrics, recorded in every registration's value. */
  metricsAddr?: string;
}

interface Acquired {
  lease: Lease;
  value: MemberValue;
}

/**
 * Grants a lease and, in one transaction, creates the key only if it does not exist
 * (`version == 0`); otherwise reads the holder and throws DuplicateMemberError. `onLost` is
 * attached before the key exists, so no loss can go unseen. The lease is revoked on any failure.
 */
async function acquire(deps: EtcdRegistrationDeps, role: Role, id: string, addr: string, onLost: (l: Lease, e: Error) => void): Promise<Acquired> {
  const { ns } = deps;
  const key = memberKey(role, id);
  const lease = ns.lease(deps.leaseTtlS);
  lease.on('lost', (err: Error) => onLost(lease, err));
  try {
    const leaseId = await lease.grant();
    const value = newMemberValue(addr, deps.now(), deps.metricsAddr);
    const res = await ns
      .if(key, 'Version', '==', 0)
      .then(ns.put(key).value(JSON.stringify(value)).lease(leaseId))
      .else(ns.get(key))
      .options(callOptions())
      .commit();
    if (!res.succeeded) {
      const kv = res.responses[0]?.response_range.kvs[0];
      throw new DuplicateMemberError(role, id, kv === undefined ? undefined : parseMemberValue(kv.value.toString('utf8')));
    }
    return { lease, value };
  } catch (err) {
    await lease.revoke(callOptions()).catch(() => undefined);
    throw err;
  }
}

/**
 * A live registration; create it with {@link EtcdRegistration.create} (EtcdMembership.register).
 * On lease loss it emits `lost` synchronously (so the owner fences before anything else runs),
 * then re-registers with a new incarnation, retrying with backoff while etcd is unreachable.
 */
export class EtcdRegistration implements Registration {
  private readonly listeners: Listeners<RegistrationEvents>;
  private lease!: Lease;
  private value!: MemberValue;
  private closed = false;
  /** Aborts the backoff sleep of a re-registration loop when the registration closes. */
  private readonly abort = new AbortController();
  private reregistering: Promise<void> | undefined;
  /** The lease whose loss was reported last: etcd3 may report one lease lost twice. */
  private lostLease: Lease | undefined;

  private constructor(
    private readonly deps: EtcdRegistrationDeps,
    readonly role: Role,
    readonly id: string,
    readonly addr: string,
  ) {
    this.listeners = new Listeners((err) => deps.logger.error({ err }, 'membership listener threw'));
  }

  /** Registers `role/id`; rejects with DuplicateMemberError if a live process holds the id. */
  static async create(deps: EtcdRegistrationDeps, role: Role, id: string, addr: string): Promise<EtcdRegistration> {
    const reg = new EtcdRegistration(deps, role, id, addr);
    const got = await acquire(deps, role, id, addr, (lease, err) => reg.onLost(lease, err));
    reg.lease = got.lease;
    reg.value = got.value;
    deps.logger.info({ role, id, addr, incarnation: got.value.incarnation }, 'membership registered');
    return reg;
  }

  get incarnation(): string {
    return this.value.incarnation;
  }

  on<E extends keyof RegistrationEvents>(event: E, listener: RegistrationEvents[E]): () => void {
    return this.listeners.on(event, listener);
  }

  /** Stops re-registering, then revokes the lease (etcd3's client close alone would keep it alive). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    await this.reregistering;
    try {
      await this.lease.revoke(callOptions());
    } catch (err) {
      // The key still expires with the lease, at most one TTL from now.
      this.deps.logger.warn({ err, role: this.role, id: this.id }, 'membership lease revoke failed; the key expires with its TTL');
    }
    this.deps.logger.info({ role: this.role, id: this.id, incarnation: this.incarnation }, 'membership closed');
  }

  /**
   * One loss per lease. etcd3 can report the same lease lost twice: after an event-loop stall
   * past twice the TTL, the expired keepalive answer reports it, and so does the keepalive retry
   * it scheduled 100 ms earlier. A second re-registration would find the key the first had just
   * created under the new incarnation and give the id up as taken by another process.
   */
  private onLost(lease: Lease, error: Error): void {
    if (this.closed || lease !== this.lease) return; // a stale lease of an earlier incarnation
    if (lease === this.lostLease) return; // already lost, and being re-registered
    this.lostLease = lease;
    const previous = this.incarnation;
    this.deps.logger.warn({ role: this.role, id: this.id, incarnation: previous, err: error }, 'membership lease lost; fencing and re-registering');
    this.listeners.emit('lost', { incarnation: previous, error });
    if (!this.closed) this.reregistering = this.reregister(lease, previous);
  }

  /**
   * Retries until registered again, closed, or another process holds the id. Each attempt first
   * revokes the old lease: a lease the client gave up on (etcd unreachable for 2 x TTL) may still
   * be alive in etcd, and its key would make our own id look taken.
   */
  private async reregister(old: Lease, previous: string): Promise<void> {
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        await old.revoke(callOptions());
        const got = await acquire(this.deps, this.role, this.id, this.addr, (lease, err) => this.onLost(lease, err));
        if (this.closed) {
          await got.lease.revoke(callOptions()).catch(() => undefined);
          return;
        }
        [this.lease, this.value] = [got.lease, got.value];
        this.deps.logger.warn({ role: this.role, id: this.id, incarnation: this.incarnation, previous }, 'membership re-registered with a new incarnation');
        this.listeners.emit('reregistered', { incarnation: this.incarnation, previous });
        return;
      } catch (err) {
        if (err instanceof DuplicateMemberError && err.holder?.incarnation !== previous) {
          this.deps.logger.error({ err, role: this.role, id: this.id }, 'membership re-registration refused: the id was taken');
          this.listeners.emit('failed', err);
          return;
        }
        const waitMs = backoffDelay(this.deps.backoff, attempt);
        this.deps.logger.warn({ err, role: this.role, id: this.id, attempt, waitMs }, 'membership re-registration failed; retrying');
        await sleep(waitMs, undefined, { signal: this.abort.signal }).catch(() => undefined);
      }
    }
  }
}
