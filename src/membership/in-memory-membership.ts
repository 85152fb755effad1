/**
 * InMemoryMembership: the {@link Membership} fake for unit and integration tests (STYLE §3
 * "Fakes, not deep mocks"). It passes the same contract tests as EtcdMembership. Several instances
 * sharing one {@link InMemoryMembershipStore} behave like processes sharing one etcd; the test
 * hooks `expireLease` and `crash` stand in for a lease expiry and a dead process.
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import { Logger, silentLogger } from '../common/logger';
import type { Role } from '../common/roles';
import { memberKey, validateMemberId, validateRole } from './keys';
import {
  DuplicateMemberError, EventGate, Listeners, Member, MemberWatch, Membership, MembershipEvent, newMemberValue, Registration,
  RegistrationEvents, sortMembers,
} from './membership';

interface Entry {
  member: Member;
  owner: InMemoryRegistration;
}

interface WatchEntry {
  role: Role | undefined;
  onChange: (ev: MembershipEvent) => void;
}

/** The shared state of in-memory memberships: the "etcd" they all talk to. */
export class InMemoryMembershipStore {
  /** Live members by `members/<role>/<id>`. */
  readonly entries = new Map<string, Entry>();
  /** Active watches. */
  readonly watches = new Set<WatchEntry>();

  /** Delivers `ev` to matching watches in a microtask, in mutation order, as etcd would (async). */
  notify(ev: MembershipEvent): void {
    for (const w of this.watches) {
      if (w.role !== undefined && w.role !== ev.role) continue;
      queueMicrotask(() => {
        if (this.watches.has(w)) w.onChange(ev);
      });
    }
  }
}

class InMemoryRegistration implements Registration {
  private readonly listeners: Listeners<RegistrationEvents>;
  incarnation = '';
  /** 'live' → 'closed' (close) or 'dead' (crash: silent, like a killed process). */
  state: 'live' | 'closed' | 'dead' = 'live';

  constructor(
    private readonly store: InMemoryMembershipStore,
    private readonly logger: Logger,
    private readonly now: () => Date,
    readonly role: Role,
    readonly id: string,
    readonly addr: string,
  ) {
    this.listeners = new Listeners((err) => this.logger.error({ err }, 'membership listener threw'));
  }

  on<E extends keyof RegistrationEvents>(event: E, listener: RegistrationEvents[E]): () => void {
    return this.listeners.on(event, listener);
  }

  /** Writes the key under a fresh incarnation; throws DuplicateMemberError if someone holds it. */
  acquire(): void {
    const key = memberKey(this.role, this.id);
    const held = this.store.entries.get(key);
    if (held !== undefined) throw new DuplicateMemberError(this.role, this.id, held.member);
    const member: Member = { role: this.role, id: this.id, ...newMemberValue(this.addr, this.now()) };
    this.incarnation = member.incarnation;
    this.store.entries.set(key, { member, owner: this });
    this.store.notify({ type: 'add', role: this.role, id: this.id, member });
  }

  /** Deletes the key if this registration holds it. */
  drop(): void {
    const key = memberKey(this.role, this.id);
    const held = this.store.entries.get(key);
    if (held?.owner !== this) return;
    this.store.entries.delete(key);
    this.store.notify({ type: 'remove', role: this.role, id: this.id, member: held.member });
  }

  /** The lease is gone: drop the key, emit `lost`, register again with a new incarnation. */
  expire(): void {
    if (this.state !== 'live') return;
    const previous = this.incarnation;
    this.drop();
    this.listeners.emit('lost', { incarnation: previous, error: new TesseraError(ERROR_CODES.UNAVAILABLE, 'lease expired') });
    if (this.state !== 'live') return; // a lost listener closed it
    try {
      this.acquire();
    } catch (err) {
      this.state = 'dead';
      this.listeners.emit('failed', err as Error);
      return;
    }
    this.logger.warn({ role: this.role, id: this.id, incarnation: this.incarnation, previous }, 'membership re-registered with a new incarnation');
    this.listeners.emit('reregistered', { incarnation: this.incarnation, previous });
  }

  async close(): Promise<void> {
    if (this.state !== 'live') return;
    this.state = 'closed';
    this.drop();
  }
}

/** Options of {@link InMemoryMembership}. */
export interface InMemoryMembershipOptions {
  /** Share one store between instances to model several processes; default: a private store. */
  store?: InMemoryMembershipStore;
  logger?: Logger;
  /** Clock for `startedAt`. */
  now?: () => Date;
}

/**
 * The in-memory {@link Membership}.
 *
 * ```ts
 * const store = new InMemoryMembershipStore();
 * const chief = new InMemoryMembership({ store });
 * const ps0 = new InMemoryMembership({ store });
 * await ps0.register('ps', 'ps-0', '127.0.0.1:7000');
 * await chief.list('ps'); // [{ role: 'ps', id: 'ps-0', ... }]
 * ```
 */
export class InMemoryMembership implements Membership {
  /** The store this instance reads and writes. */
  readonly store: InMemoryMembershipStore;
  private readonly logger: Logger;
  private readonly now: () => Date;
  private readonly registrations = new Set<InMemoryRegistration>();
  private readonly watchStops = new Set<() => Promise<void>>();

  constructor(opts: InMemoryMembershipOptions = {}) {
    this.store = opts.store ?? new InMemoryMembershipStore();
    this.logger = opts.logger ?? silentLogger();
    this.now = opts.now ?? (() => new Date());
  }

  async register(role: Role, id: string, addr: string): Promise<Registration> {
    const reg = new InMemoryRegistration(this.store, this.logger, this.now, validateRole(role), validateMemberId(id), addr);
    reg.acquire();
    this.registrations.add(reg);
    return reg;
  }

  async list(role?: Role): Promise<Member[]> {
    return this.snapshot(role);
  }

  private snapshot(role: Role | undefined): Member[] {
    if (role !== undefined) validateRole(role);
    const out = [...this.store.entries.values()].map((e) => ({ ...e.member }));
    return sortMembers(out.filter((m) => role === undefined || m.role === role));
  }

  async watch(role: Role | undefined, onChange: (ev: MembershipEvent) => void): Promise<MemberWatch> {
    // Snapshot and subscription in one synchronous step: no mutation can fall between them.
    const snapshot = this.snapshot(role);
    const gate = new EventGate<MembershipEvent>((ev) => {
      try {
        onChange(ev);
      } catch (err) {
        this.logger.error({ err }, 'membership watch callback threw');
      }
    });
    const entry: WatchEntry = { role, onChange: (ev) => gate.push(ev) };
    this.store.watches.add(entry);
    const stop = async (): Promise<void> => {
      gate.close();
      this.store.watches.delete(entry);
      this.watchStops.delete(stop);
    };
    this.watchStops.add(stop);
    gate.open();
    return { snapshot, stop };
  }

  async close(): Promise<void> {
    await Promise.all([...this.watchStops].map((stop) => stop()));
    await Promise.all([...this.registrations].map((r) => r.close()));
    this.registrations.clear();
  }

  /** Test hook: the lease of `role/id` expires (as when etcd loses the holder's keepalives). */
  expireLease(role: Role, id: string): void {
    const held = this.store.entries.get(memberKey(role, id));
    if (held === undefined) throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `${role} ${id} is not registered`);
    held.owner.expire();
  }

  /** Test hook: this "process" dies. Its keys vanish (peers see removes); it emits nothing. */
  crash(): void {
    for (const stop of [...this.watchStops]) void stop();
    for (const r of this.registrations) {
      r.state = 'dead';
      r.drop();
    }
    this.registrations.clear();
  }
}
