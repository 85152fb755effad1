/**
 * The membership watch over etcd: one range read for the snapshot, then a watch that starts at
 * the revision right after it (etcd3's own tests use `start_revision` this way), so
 * every change after the snapshot arrives exactly once and nothing before it arrives at all.
 */
import type { IKeyValue, Namespace, Watcher } from 'etcd3';
import type { Logger } from '../common/logger';
import { callOptions, keyOf, nextRevision } from './etcd-common';
import type { Role } from '../common/roles';
import { memberPrefix, parseMemberKey } from './keys';
import { EventGate, Member, MemberWatch, MembershipEvent, parseMemberValue, sortMembers } from './membership';

/** Decodes one member kv; logs and returns undefined for a key or value that is not a member. */
export function decodeMember(kv: IKeyValue, logger: Logger): Member | undefined {
  const key = keyOf(kv);
  const who = parseMemberKey(key);
  const value = parseMemberValue(kv.value.toString('utf8'));
  if (who === undefined || value === undefined) {
    // A malformed key is skipped and logged, never fatal: someone wrote it by hand, and the
    // other members must keep being seen.
    logger.warn({ key }, 'ignoring malformed membership key');
    return undefined;
  }
  return { ...who, ...value };
}

/** Live members under `members/` (or `members/<role>/`), sorted, plus the read's revision. */
export async function readMembers(ns: Namespace, role: Role | undefined, logger: Logger): Promise<{ members: Member[]; revision: string }> {
  const res = await ns.getAll().prefix(memberPrefix(role)).options(callOptions()).exec();
  const members = res.kvs.map((kv) => decodeMember(kv, logger)).filter((m): m is Member => m !== undefined);
  return { members: sortMembers(members), revision: res.header.revision };
}

/** Waits for etcd to confirm a watcher's creation; cancels the watcher if creation fails. */
export async function watcherConnected(watcher: Watcher): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      watcher.once('connected', () => {
        watcher.off('error', onError);
        resolve();
      });
      watcher.once('error', onError);
    });
  } catch (err) {
    await watcher.cancel().catch(() => undefined);
    throw err;
  }
}

/**
 * Starts a membership watch; see Membership.watch. Events are classified against what this
 * watch has delivered so far: a put of an unknown key is `add`, of a known key `update`.
 */
export async function watchMembers(
  ns: Namespace,
  role: Role | undefined,
  onChange: (ev: MembershipEvent) => void,
  logger: Logger,
): Promise<MemberWatch> {
  const { members, revision } = await readMembers(ns, role, logger);
  const known = new Map<string, Member>(members.map((m) => [`${m.role}/${m.id}`, m]));
  const gate = new EventGate<MembershipEvent>((ev) => {
    try {
      onChange(ev);
    } catch (err) {
      logger.error({ err }, 'membership watch callback threw');
    }
  });
  // `.watcher()` (not `.create()`) so the handlers are attached before any event can arrive.
  const watcher = ns.watch().prefix(memberPrefix(role)).startRevision(nextRevision(revision)).withPreviousKV().watcher();
  watcher.on('put', (kv: IKeyValue) => {
    const member = decodeMember(kv, logger);
    if (member === undefined) return;
    const k = `${member.role}/${member.id}`;
    const type = known.has(k) ? 'update' : 'add';
    known.set(k, member);
    gate.push({ type, role: member.role, id: member.id, member });
  });
  watcher.on('delete', (kv: IKeyValue, prev?: IKeyValue) => {
    const who = parseMemberKey(keyOf(kv));
    if (who === undefined) return;
    const k = `${who.role}/${who.id}`;
    const member = known.get(k) ?? (prev === undefined ? undefined : decodeMember(prev, logger));
    known.delete(k);
    gate.push({ type: 'remove', ...who, member });
  });
  // etcd3 reconnects a dropped watch by itself, resuming after the last revision it saw. An
  // 'error' means etcd cancelled the watch (e.g. its revision was compacted): changes may be lost.
  watcher.on('error', (err: Error) => logger.error({ err }, 'membership watch cancelled by etcd; restart it'));
  await watcherConnected(watcher);
  gate.open();
  let stopped = false;
  return {
    snapshot: members,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      gate.close();
      await watcher.cancel();
    },
  };
}
