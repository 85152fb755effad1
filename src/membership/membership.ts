/**
 * Membership: who is alive in a job, and how a process announces itself. The interface is small
 * (register, list, watch, close) so a role sees no etcd; `EtcdMembership` implements it with
 * leases and watches, never by polling, and test/etcd/membership-contract.test.ts pins down its
 * behaviour against a real etcd.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { Role } from '../common/roles';

/** What a member key holds (the JSON value of `members/<role>/<id>`). */
export interface MemberValue {
  /** Address peers dial, "host:port". */
  addr: string;
  /** Random 64-bit hex, new on every (re-)registration; peers use it to tell a restart apart. */
  incarnation: string;
  /** ISO-8601 time this incarnation registered. */
  startedAt: string;
  /** Pid of the registering process (named in duplicate-id errors). */
  pid: number;
  /** Hostname of the registering process (named in duplicate-id errors). */
  host: string;
  /** "host:port" of the process's Prometheus `/metrics` endpoint, when it serves one (scrape discovery). */
  metrics?: string;
}

/** One live member: its identity plus its value. */
export interface Member extends MemberValue {
  role: Role;
  id: string;
}

/**
 * A change seen by {@link Membership.watch}. `add`: the key appeared; `update`: its value changed
 * (same lease); `remove`: it disappeared (closed, lease expired or revoked). `member` is the new
 * value for add/update and the last known value for remove (absent if it was never seen).
 */
export interface MembershipEvent {
  type: 'add' | 'update' | 'remove';
  role: Role;
  id: string;
  member?: Member;
}

/** What {@link Membership.watch} resolves to. */
export interface MemberWatch {
  /** Members present when the watch started; events cover every change after it, none before. */
  snapshot: Member[];
  /** Stops delivering events. Idempotent. */
  stop(): Promise<void>;
}

/** Events of a {@link Registration}. */
export interface RegistrationEvents {
  /**
   * The registration's lease is gone (expired, revoked, or etcd unreachable for too long). The
   * owner must fence itself at once (a PS rejects pushes); peers may already see it as removed.
   */
  lost: (ev: { incarnation: string; error: Error }) => void;
  /** Registered again after `lost`, under a new incarnation; the owner may unfence. */
  reregistered: (ev: { incarnation: string; previous: string }) => void;
  /** Re-registration gave up for good (e.g. another process took the id); the owner should exit. */
  failed: (error: Error) => void;
}

/** A live registration. Close it on shutdown so peers see the removal at once, not after a TTL. */
export interface Registration {
  readonly role: Role;
  readonly id: string;
  readonly addr: string;
  /** The current incarnation; changes after each `reregistered`. */
  readonly incarnation: string;
  /** Subscribes to an event; returns the unsubscribe function. */
  on<E extends keyof RegistrationEvents>(event: E, listener: RegistrationEvents[E]): () => void;
  /** Removes the key (revokes the lease) and stops re-registering. Idempotent. */
  close(): Promise<void>;
}

/**
 * Service discovery for one job.
 *
 * ```ts
 * const reg = await membership.register('ps', 'ps-0', '10.0.0.5:7000');
 * reg.on('lost', () => psNode.fence());
 * reg.on('reregistered', ({ incarnation }) => psNode.unfence(incarnation));
 * const { snapshot, stop } = await membership.watch('ps', (ev) => router.apply(ev));
 * ```
 */
export interface Membership {
  /**
   * Announces `role/id` at `addr`. Rejects with a CONFIG TesseraError if a live process already
   * holds that id ("worker w-1 is already registered by pid …").
   */
  register(role: Role, id: string, addr: string): Promise<Registration>;
  /** Live members (of one role, or all), sorted by role then id. */
  list(role?: Role): Promise<Member[]>;
  /** Snapshot plus every later change, in order, with no gap and no duplicate. */
  watch(role: Role | undefined, onChange: (ev: MembershipEvent) => void): Promise<MemberWatch>;
  /** Closes every registration and watch made through this instance. */
  close(): Promise<void>;
}

/** A fresh random 64-bit incarnation, 16 hex digits. */
export function newIncarnation(): string {
  return randomBytes(8).toString('hex');
}

/** The value this process writes for a new incarnation. */
export function newMemberValue(addr: string, now: Date = new Date(), metrics?: string): MemberValue {
  return { addr, incarnation: newIncarnation(), startedAt: now.toISOString(), pid: process.pid, host: hostname(), ...(metrics ? { metrics } : {}) };
}

/** Decodes a member key's JSON value; undefined if it is not a valid MemberValue. */
export function parseMemberValue(text: string): MemberValue | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.addr !== 'string' || typeof o.incarnation !== 'string' || typeof o.startedAt !== 'string') return undefined;
  return {
    addr: o.addr,
    incarnation: o.incarnation,
    startedAt: o.startedAt,
    pid: typeof o.pid === 'number' ? o.pid : -1,
    host: typeof o.host === 'string' ? o.host : 'unknown',
    ...(typeof o.metrics === 'string' ? { metrics: o.metrics } : {}),
  };
}

/**
 * The refusal of a second registration of a live id. A CONFIG error (not retryable): the operator
 * started two processes with one `--id`.
 */
export class DuplicateMemberError extends TesseraError {
  /** What the key holds now; undefined if its value is unreadable. */
  readonly holder: MemberValue | undefined;

  constructor(role: Role, id: string, holder: MemberValue | undefined) {
    const by = holder === undefined
      ? 'another process (its value is unreadable)'
      : `pid ${holder.pid} on ${holder.host} at addr ${holder.addr} (incarnation ${holder.incarnation}, since ${holder.startedAt})`;
    super(ERROR_CODES.CONFIG, `${role} ${id} is already registered by ${by}; stop it or pick another --id`);
    this.name = 'DuplicateMemberError';
    this.holder = holder;
  }
}

/** Sorts members in place by role, then id (plain string order), and returns them. */
export function sortMembers(members: Member[]): Member[] {
  return members.sort((a, b) => (a.role < b.role ? -1 : a.role > b.role ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * A tiny typed listener set shared by both Registration implementations. A throwing listener is
 * reported to `onListenerError` instead of breaking the emitter (bad subscriber code must not
 * stop re-registration).
 */
export class Listeners<Events extends { [K in keyof Events]: (...args: never[]) => void }> {
  private readonly sets = new Map<keyof Events, Set<(...args: never[]) => void>>();

  constructor(private readonly onListenerError: (err: unknown) => void) {}

  /** Adds a listener; returns its unsubscribe function. */
  on<E extends keyof Events>(event: E, listener: Events[E]): () => void {
    let set = this.sets.get(event);
    if (set === undefined) this.sets.set(event, (set = new Set()));
    set.add(listener);
    return () => void set!.delete(listener);
  }

  /** Calls every listener of `event` with `args`. */
  emit<E extends keyof Events>(event: E, ...args: Parameters<Events[E]>): void {
    for (const listener of [...(this.sets.get(event) ?? [])]) {
      try {
        (listener as (...a: Parameters<Events[E]>) => void)(...args);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }
}

/**
 * Holds events back until `open()`, then delivers them (and every later one) in order. Watches use
 * it so `onChange` never runs before `watch()` has resolved with the snapshot: the caller has
 * its snapshot in hand before the first event. `open()` flushes on `setImmediate`, after the
 * caller's `await` continuation (a microtask) has run.
 */
export class EventGate<T> {
  private pending: T[] | undefined = [];
  private closed = false;

  constructor(private readonly deliver: (ev: T) => void) {}

  /** Delivers `ev` now if open, else queues it. Dropped after `close()`. */
  push(ev: T): void {
    if (this.closed) return;
    if (this.pending === undefined) this.deliver(ev);
    else this.pending.push(ev);
  }

  /** Opens the gate on the next macrotask. */
  open(): void {
    setImmediate(() => {
      const queued = this.pending ?? [];
      this.pending = undefined;
      for (const ev of queued) if (!this.closed) this.deliver(ev);
    });
  }

  /** Drops queued and future events. */
  close(): void {
    this.closed = true;
    this.pending = [];
  }
}
