/**
 * The JobStore on etcd, under `/tessera/<job>/` (docs/etcd-keys.md): `state`, `status`,
 * `assignments/<shard>`, `progress/<shard>`.
 *
 * Fencing. A chief store is built with `leaderKey`, the chief's own election key; every chief
 * write is a transaction conditioned on that key still existing, so a chief that lost its lease
 * (and whose standby may already lead) cannot write anything. A worker's progress commit is
 * conditioned on its assignment's exact bytes, so a worker whose shard was taken back (it was
 * presumed dead) cannot move that shard's position: each row is committed once per epoch.
 */
import type { IKeyValue, Namespace } from 'etcd3';
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { Logger } from '../common/logger';
import { callOptions, keyOf, nextRevision } from '../membership/etcd-common';
import { watcherConnected } from '../membership/etcd-member-watch';
import { assignmentKey, drainKey, faultKey, jobPrefix, KEYS, progressKey } from '../membership/keys';
import type { DeltaPointer, JobSnapshot, JobStore, JobStoreWatch } from './job-store';
import {
  Assignment, assignmentJSON, CheckpointPointer, DrainRequest, JobState, JobStatus, MigrationRecord, parseAssignment,
  parseCheckpointPointer, parseDrainRequest, parseJobState, parseJobStatus, parseMigrationRecord, parseProgress,
  parsePsFault, parseTableRecord, Progress, PsFault, TableRecord,
} from './job-types';

type TxnOps = Parameters<ReturnType<Namespace['if']>['then']>;

export interface EtcdJobStoreDeps {
  /** An etcd3 client (or namespace). Not closed here. */
  client: Namespace;
  job: string;
  logger: Logger;
  /** The writer's election key (relative to the job prefix); chief writes require it to exist. */
  leaderKey?: string;
}

function isWatched(key: string): boolean {
  return key === KEYS.STATE || key === KEYS.TABLES || key.startsWith(KEYS.ASSIGNMENTS) || key.startsWith(KEYS.PROGRESS)
    || key.startsWith(KEYS.FAULTS) || key === KEYS.MIGRATION || key.startsWith(KEYS.DRAIN);
}

export class EtcdJobStore implements JobStore {
  private readonly ns: Namespace;
  private readonly log: Logger;

  constructor(private readonly deps: EtcdJobStoreDeps) {
    this.ns = deps.client.namespace(jobPrefix(deps.job));
    this.log = deps.logger.child({ component: 'job-store' });
  }

  async snapshot(): Promise<JobSnapshot> {
    const res = await this.ns.getAll().prefix('').options(callOptions()).exec();
    const snap: JobSnapshot = {
      state: undefined, assignments: new Map(), progress: new Map(), tables: undefined, faults: new Map(),
      migration: undefined, drains: new Map(), revision: res.header.revision,
    };
    for (const kv of res.kvs) this.absorb(snap, kv);
    return snap;
  }

  async watch(onChange: () => void): Promise<JobStoreWatch> {
    const first = await this.ns.get(KEYS.STATE).options(callOptions()).exec();
    const watcher = this.ns.watch().prefix('').startRevision(nextRevision(first.header.revision)).watcher();
    watcher.on('data', (res: { events: { kv: IKeyValue }[] }) => {
      if (!res.events.some((e) => isWatched(keyOf(e.kv)))) return;
      try {
        onChange();
      } catch (err) {
        this.log.error({ err }, 'job store watch callback threw');
      }
    });
    watcher.on('error', (err: Error) => this.log.warn({ err: err.message }, 'job store watch error; etcd3 reconnects it'));
    await watcherConnected(watcher);
    return { stop: async () => { await watcher.cancel(); } };
  }

  async createState(state: JobState): Promise<boolean> {
    const res = await this.guarded(this.ns.if(KEYS.STATE, 'Version', '==', 0)).then(this.ns.put(KEYS.STATE).value(JSON.stringify(state))).options(callOptions()).commit();
    if (!res.succeeded) await this.checkLeader();
    return res.succeeded;
  }

  async putState(state: JobState): Promise<void> {
    await this.leaderTxn([this.ns.put(KEYS.STATE).value(JSON.stringify(state))], 'write the job state');
  }

  async startEpoch(state: JobState): Promise<void> {
    await this.leaderTxn([
      this.ns.put(KEYS.STATE).value(JSON.stringify(state)),
      this.ns.delete().prefix(KEYS.ASSIGNMENTS),
      this.ns.delete().prefix(KEYS.PROGRESS),
    ], `start epoch ${state.epoch}`);
  }

  async assign(a: Assignment): Promise<boolean> {
    const key = assignmentKey(a.shard);
    const res = await this.guarded(this.ns.if(key, 'Version', '==', 0)).then(this.ns.put(key).value(assignmentJSON(a))).options(callOptions()).commit();
    if (!res.succeeded) await this.checkLeader();
    return res.succeeded;
  }

  async revoke(a: Assignment): Promise<boolean> {
    const key = assignmentKey(a.shard);
    const res = await this.guarded(this.ns.if(key, 'Value', '==', assignmentJSON(a))).then(this.ns.delete().key(key)).options(callOptions()).commit();
    if (!res.succeeded) await this.checkLeader();
    return res.succeeded;
  }

  async putStatus(status: JobStatus): Promise<void> {
    await this.leaderTxn([this.ns.put(KEYS.STATUS).value(JSON.stringify(status))], 'write the status');
  }

  async putDeltaPointer(p: DeltaPointer): Promise<void> {
    await this.leaderTxn([this.ns.put(KEYS.DELTAS_LATEST).value(JSON.stringify(p))], `announce model version ${p.version}`);
  }

  /**
   * Calls `onAnnounced` once now and after every write of `deltas/latest` (a new version of the
   * delta stream on disk); `tessera serve --follow --etcd --job` rescans its model root on it.
   */
  async watchDeltaPointer(onAnnounced: () => void): Promise<JobStoreWatch> {
    const first = await this.ns.get(KEYS.DELTAS_LATEST).options(callOptions()).exec();
    onAnnounced();
    const watcher = this.ns.watch().key(KEYS.DELTAS_LATEST).startRevision(nextRevision(first.header.revision)).watcher();
    watcher.on('put', () => onAnnounced());
    watcher.on('error', (err: Error) => this.log.warn({ err: err.message }, 'deltas/latest watch error; etcd3 reconnects it'));
    await watcherConnected(watcher);
    return { stop: async () => { await watcher.cancel(); } };
  }

  async putCheckpointPointer(p: CheckpointPointer): Promise<void> {
    await this.leaderTxn([this.ns.put(KEYS.CHECKPOINTS_LATEST).value(JSON.stringify(p))], `point at checkpoint ${p.id}`);
  }

  async restoreJob(state: JobState, progress: readonly Progress[]): Promise<void> {
    // 1. Take every assignment back: from here on no worker can commit.
    await this.leaderTxn([this.ns.delete().prefix(KEYS.ASSIGNMENTS)] as TxnOps,
      `take back the assignments before restoring checkpoint ${state.restoredFrom}`);
    // 2. The state and the checkpoint's positions in one transaction. etcd refuses a range
    //    delete and puts inside that range in one transaction, so stale records go one by one.
    const existing = await this.ns.getAll().prefix(KEYS.PROGRESS).options(callOptions()).keys();
    const keep = new Set(progress.map((p) => progressKey(p.shard)));
    await this.leaderTxn([
      this.ns.put(KEYS.STATE).value(JSON.stringify(state)),
      ...existing.filter((k) => !keep.has(k)).map((k) => this.ns.delete().key(k)),
      ...progress.map((p) => this.ns.put(progressKey(p.shard)).value(JSON.stringify(p))),
    ] as TxnOps, `restore the job state from checkpoint ${state.restoredFrom}`);
  }

  async putTables(record: TableRecord): Promise<void> {
    await this.leaderTxn([this.ns.put(KEYS.TABLES).value(JSON.stringify(record))], `publish table incarnations (generation ${record.generation})`);
  }

  async deleteFaults(workers: readonly string[]): Promise<void> {
    if (workers.length === 0) return;
    await this.leaderTxn(workers.map((w) => this.ns.delete().key(faultKey(w))) as TxnOps, 'delete handled fault reports');
  }

  async createMigration(record: MigrationRecord): Promise<boolean> {
    const res = await this.guarded(this.ns.if(KEYS.MIGRATION, 'Version', '==', 0)).then(this.ns.put(KEYS.MIGRATION).value(JSON.stringify(record)))
      .options(callOptions()).commit();
    if (!res.succeeded) await this.checkLeader();
    return res.succeeded;
  }

  async commitMigration(record: MigrationRecord): Promise<void> {
    const map = (await this.ns.get(KEYS.SHARD_MAP).options(callOptions()).exec()).kvs[0];
    const stored = map === undefined ? 0 : (JSON.parse(map.value.toString('utf8')) as { version: number }).version;
    const changed = () => new TesseraError(ERROR_CODES.STALE_SHARD_MAP,
      `migration ${record.id} not committed: the shard map is version ${stored} (expected ${record.fromVersion}) or the migration record changed; the migration is rolled back`);
    if (map === undefined || stored !== record.fromVersion) throw changed();
    const res = await this.guarded(this.ns.if(KEYS.SHARD_MAP, 'Mod', '==', map.mod_revision).and(KEYS.MIGRATION, 'Value', '==', JSON.stringify(record)))
      .then(this.ns.put(KEYS.SHARD_MAP).value(JSON.stringify(record.to)), this.ns.put(KEYS.MIGRATION).value(JSON.stringify({ ...record, phase: 'commit' })))
      .options(callOptions()).commit();
    if (!res.succeeded) {
      await this.checkLeader();
      throw changed();
    }
  }

  async deleteMigration(): Promise<void> {
    await this.leaderTxn([this.ns.delete().key(KEYS.MIGRATION)], 'delete the migration record');
  }

  async settleDrains(done: readonly string[], forget: readonly string[]): Promise<void> {
    if (done.length + forget.length === 0) return;
    const at = new Date().toISOString();
    await this.leaderTxn([
      ...done.map((id) => this.ns.put(drainKey(id)).value(JSON.stringify({ id, at, done: true }))),
      ...forget.map((id) => this.ns.delete().key(drainKey(id))),
    ] as TxnOps, 'record drained parameter servers');
  }

  async requestDrain(memberId: string): Promise<boolean> {
    const key = drainKey(memberId);
    const request: DrainRequest = { id: memberId, at: new Date().toISOString(), done: false };
    const res = await this.ns.if(key, 'Version', '==', 0).then(this.ns.put(key).value(JSON.stringify(request))).options(callOptions()).commit();
    return res.succeeded;
  }

  watchDrain(memberId: string, onDrain: (d: DrainRequest | undefined) => void): Promise<JobStoreWatch> {
    return this.watchKey(drainKey(memberId), parseDrainRequest, onDrain, 'drain request');
  }

  async reportFault(fault: PsFault): Promise<void> {
    await this.ns.put(faultKey(fault.worker)).value(JSON.stringify(fault)).options(callOptions()).exec();
  }

  async checkpointPointer(): Promise<CheckpointPointer | undefined> {
    const text = await this.ns.get(KEYS.CHECKPOINTS_LATEST).options(callOptions()).string();
    return text === null ? undefined : parseCheckpointPointer(text);
  }

  /** Calls `on` with `key`'s decoded value (undefined: none, or it does not parse) now and after every change. */
  private async watchKey<T>(key: string, parse: (text: string) => T, on: (v: T | undefined) => void, what: string): Promise<JobStoreWatch> {
    const first = await this.ns.get(key).options(callOptions()).exec();
    const decode = (kv: IKeyValue | undefined): T | undefined => {
      if (!kv) return undefined;
      try {
        return parse(kv.value.toString('utf8'));
      } catch (err) {
        this.log.error({ err: (err as Error).message }, `ignoring a ${what} that does not parse`);
        return undefined;
      }
    };
    on(decode(first.kvs[0]));
    const watcher = this.ns.watch().key(key).startRevision(nextRevision(first.header.revision)).watcher();
    watcher.on('put', (kv: IKeyValue) => on(decode(kv)));
    watcher.on('delete', () => on(undefined));
    watcher.on('error', (err: Error) => this.log.warn({ err: err.message }, `${what} watch error; etcd3 reconnects it`));
    await watcherConnected(watcher);
    return { stop: async () => { await watcher.cancel(); } };
  }

  async commitProgress(a: Assignment, p: Progress): Promise<boolean> {
    const res = await this.ns.if(assignmentKey(a.shard), 'Value', '==', assignmentJSON(a))
      .then(this.ns.put(progressKey(a.shard)).value(JSON.stringify(p))).options(callOptions()).commit();
    return res.succeeded;
  }

  async progress(shard: number): Promise<Progress | undefined> {
    const text = await this.ns.get(progressKey(shard)).options(callOptions()).string();
    return text === null ? undefined : parseProgress(text);
  }

  async status(): Promise<JobStatus | undefined> {
    const text = await this.ns.get(KEYS.STATUS).options(callOptions()).string();
    return text === null ? undefined : parseJobStatus(text);
  }

  private absorb(snap: JobSnapshot, kv: IKeyValue): void {
    const key = keyOf(kv);
    const text = kv.value.toString('utf8');
    try {
      if (key === KEYS.STATE) snap.state = parseJobState(text);
      else if (key.startsWith(KEYS.ASSIGNMENTS)) { const a = parseAssignment(text); snap.assignments.set(a.shard, a); }
      else if (key.startsWith(KEYS.PROGRESS)) { const p = parseProgress(text); snap.progress.set(p.shard, p); }
      else if (key === KEYS.TABLES) snap.tables = parseTableRecord(text);
      else if (key.startsWith(KEYS.FAULTS)) { const f = parsePsFault(text); snap.faults.set(f.worker, f); }
      else if (key === KEYS.MIGRATION) snap.migration = parseMigrationRecord(text);
      else if (key.startsWith(KEYS.DRAIN)) { const d = parseDrainRequest(text); snap.drains.set(d.id, d); }
    } catch (err) {
      if (key === KEYS.STATE) throw err; // nothing sensible can run over a corrupt state
      this.log.error({ key, err: (err as Error).message }, 'ignoring a control record that does not parse');
    }
  }

  /** A transaction builder whose comparisons include the leader guard (if any). */
  private guarded(base?: ReturnType<Namespace['if']>): ReturnType<Namespace['if']> {
    const { leaderKey } = this.deps;
    if (base === undefined) {
      return leaderKey === undefined ? this.ns.if(KEYS.STATE, 'Version', '>', -1) : this.ns.if(leaderKey, 'Create', '>', 0);
    }
    return leaderKey === undefined ? base : base.and(leaderKey, 'Create', '>', 0);
  }

  private async leaderTxn(ops: Parameters<ReturnType<Namespace['if']>['then']>, what: string): Promise<void> {
    const res = await this.guarded().then(...ops).options(callOptions()).commit();
    if (!res.succeeded) throw this.notLeader(what);
  }

  /** After a failed guarded transaction: throws NOT_LEADER if the guard, not the condition, failed. */
  private async checkLeader(): Promise<void> {
    const { leaderKey } = this.deps;
    if (leaderKey === undefined) return;
    const n = await this.ns.get(leaderKey).options(callOptions()).exec();
    if (n.kvs.length === 0) throw this.notLeader('write');
  }

  private notLeader(what: string): TesseraError {
    return new TesseraError(ERROR_CODES.NOT_LEADER,
      `cannot ${what}: this chief's election key ${this.deps.leaderKey} is gone (its lease expired), so another chief may lead; stepping down`);
  }
}
