/**
 * Chief election over etcd3's `Election` (`election/<name>/<leaseId>` keys; the candidate with the
 * oldest key leads). Candidates campaign and wait; the leader's lease TTL bounds how long a dead
 * leader blocks its standby.
 *
 * Known trap: an etcd3 `ElectionObserver` created before any candidate exists can
 * report the wrong leader (it takes the last put of a watch batch, not the oldest key). `observe`
 * here does not use it: on every change under the prefix it re-reads the oldest key, which is
 * what `election.leader()` does.
 */
import { Election, IKeyValue, Namespace } from 'etcd3';
import { ERROR_CODES, TesseraError } from '../common/errors';
import { childLogger, Logger } from '../common/logger';
import { callOptions, keyOf, nextRevision } from './etcd-common';
import { watcherConnected } from './etcd-member-watch';
import { CHIEF_ELECTION, electionPrefix, jobPrefix, validateMemberId } from './keys';
import { EventGate, Listeners } from './membership';

/**
 * Default election lease TTL. A standby takes over within about this long after the leader dies;
 * etcd3 renews every TTL/3, so 5 s tolerates a ~3 s stall before leadership is lost.
 */
export const DEFAULT_ELECTION_TTL_S = 5;

/** Dependencies of {@link LeaderElection}. */
export interface LeaderElectionDeps {
  /** An etcd3 client (or namespace). Not closed here. */
  client: Namespace;
  job: string;
  logger: Logger;
  /** Lease TTL of each candidate, whole seconds >= 1. Default {@link DEFAULT_ELECTION_TTL_S}. */
  ttlS?: number;
  /** Election name (`election/<name>/`). Default `chief`. */
  name?: string;
}

/** Events of a {@link LeaderHandle}. */
export interface LeaderEvents {
  /** Leadership ended without `resign()` (the lease was lost): stop acting as leader now. */
  lost: (error: Error) => void;
}

/** The elected candidate. */
export interface LeaderHandle {
  readonly id: string;
  readonly value: string;
  on<E extends keyof LeaderEvents>(event: E, listener: LeaderEvents[E]): () => void;
  /**
   * This candidate's election key, relative to the job prefix (`election/chief/<leaseId>`). It
   * exists exactly while the candidate's lease lives: writes conditioned on it are fenced.
   */
  key(): Promise<string>;
  /** Gives leadership up (revokes the lease); a standby is elected at once. Idempotent. */
  resign(): Promise<void>;
}

/** What {@link LeaderElection.observe} resolves to. */
export interface LeaderObservation {
  /** The leader's value when observation started; undefined if there was none. */
  leader: string | undefined;
  stop(): Promise<void>;
}

type Campaign = ReturnType<Election['campaign']>;

class Candidate implements LeaderHandle {
  readonly listeners: Listeners<LeaderEvents>;
  elected = false;
  resigned = false;

  constructor(readonly id: string, readonly value: string, readonly campaign: Campaign, private readonly logger: Logger,
              private readonly prefix: string, private readonly onResign: () => void) {
    this.listeners = new Listeners((err) => logger.error({ err }, 'leader listener threw'));
  }

  async key(): Promise<string> {
    const full = await this.campaign.getCampaignKey();
    const at = full.indexOf(this.prefix); // the client itself may be namespaced
    return at >= 0 ? full.slice(at + this.prefix.length) : full;
  }

  on<E extends keyof LeaderEvents>(event: E, listener: LeaderEvents[E]): () => void {
    return this.listeners.on(event, listener);
  }

  async resign(): Promise<void> {
    if (this.resigned) return;
    this.resigned = true;
    this.onResign();
    await this.campaign.resign();
    this.logger.info({ id: this.id, wasLeader: this.elected }, 'election: resigned');
  }
}

/**
 * Leader election for one job.
 *
 * ```ts
 * const election = new LeaderElection({ client, job: 'criteo', logger });
 * const handle = await election.campaign('chief-a', JSON.stringify({ addr }));  // waits while standby
 * handle.on('lost', () => process.exit(1));                                      // fence: stop leading
 * const current = await election.leader();
 * ```
 */
export class LeaderElection {
  private readonly election: Election;
  /** `election/<name>/` inside the job namespace: the candidates' keys. */
  private readonly candidates: Namespace;
  private readonly logger: Logger;
  private readonly active = new Set<Candidate>();
  private readonly prefix: string;

  constructor(deps: LeaderElectionDeps) {
    const name = deps.name ?? CHIEF_ELECTION;
    const ttlS = deps.ttlS ?? DEFAULT_ELECTION_TTL_S;
    if (!Number.isInteger(ttlS) || ttlS < 1) throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `ttlS must be an integer >= 1 (got ${ttlS})`);
    this.prefix = jobPrefix(deps.job);
    const ns = deps.client.namespace(this.prefix);
    this.election = ns.election(name, ttlS);
    // etcd3 campaigns under `${Election.prefix}/${name}/`; keys.ts spells the same prefix.
    this.candidates = ns.namespace(electionPrefix(name));
    this.logger = childLogger(deps.logger, { component: 'election', job: deps.job, election: name });
  }

  /**
   * Campaigns with `value` and resolves once this candidate leads. Rejects if the campaign fails
   * before that (lease lost, etcd error) or is resigned (via {@link resign}) while still waiting.
   */
  campaign(id: string, value: string): Promise<LeaderHandle> {
    return new Promise<LeaderHandle>((resolve, reject) => {
      validateMemberId(id); // a throw here rejects the promise
      const campaign = this.election.campaign(value);
      const candidate: Candidate = new Candidate(id, value, campaign, this.logger, this.prefix, () => {
        this.active.delete(candidate);
        if (!candidate.elected) reject(new TesseraError(ERROR_CODES.UNAVAILABLE, `campaign of ${id} was resigned before it was elected`, { retryable: false }));
      });
      this.active.add(candidate);
      campaign.on('elected', () => {
        if (candidate.resigned) return;
        candidate.elected = true;
        this.logger.info({ id }, 'election: elected leader');
        resolve(candidate);
      });
      // Without an 'error' listener etcd3's Campaign would throw from its EventEmitter.
      campaign.on('error', (err: Error) => {
        this.active.delete(candidate);
        if (candidate.resigned) return;
        if (!candidate.elected) return reject(err);
        this.logger.warn({ id, err }, 'election: leadership lost');
        candidate.listeners.emit('lost', err);
      });
    });
  }

  /** The current leader's value (the oldest candidate key), or undefined if there is none. */
  async leader(): Promise<string | undefined> {
    return (await this.readLeader()).kv?.value.toString('utf8');
  }

  /** Resigns every campaign started here, waiting or elected. */
  async resign(): Promise<void> {
    await Promise.all([...this.active].map((c) => c.resign()));
  }

  /**
   * Calls `onLeaderChange` whenever the leader changes (another candidate's key becomes the oldest,
   * the leader proclaims a new value, or the last candidate leaves: `undefined`). Safe to start
   * before any candidate exists (see the trap in the file comment). Never called before this
   * resolves.
   */
  async observe(onLeaderChange: (value: string | undefined) => void): Promise<LeaderObservation> {
    const first = await this.readLeader();
    let current = first.kv;
    const gate = new EventGate<string | undefined>((v) => {
      try {
        onLeaderChange(v);
      } catch (err) {
        this.logger.error({ err }, 'leader observer threw');
      }
    });
    let chain = Promise.resolve();
    let stopped = false;
    const refresh = async (): Promise<void> => {
      if (stopped) return;
      const { kv } = await this.readLeader();
      if (sameKv(current, kv)) return;
      current = kv;
      gate.push(kv?.value.toString('utf8'));
    };
    const watcher = this.candidates.watch().prefix('').startRevision(nextRevision(first.revision)).watcher();
    // Re-reads are chained so reports come out in etcd order, one read per watch batch.
    watcher.on('data', () => {
      chain = chain.then(refresh).catch((err) => this.logger.warn({ err }, 'election observer re-read failed'));
    });
    watcher.on('error', (err: Error) => this.logger.error({ err }, 'election watch cancelled by etcd; restart observe()'));
    await watcherConnected(watcher);
    gate.open();
    return {
      leader: current?.value.toString('utf8'),
      stop: async () => {
        stopped = true;
        gate.close();
        await watcher.cancel();
        await chain;
      },
    };
  }

  private async readLeader(): Promise<{ kv: IKeyValue | undefined; revision: string }> {
    const res = await this.candidates.getAll().sort('Create', 'Ascend').limit(1).options(callOptions()).exec();
    return { kv: res.kvs[0], revision: res.header.revision };
  }
}

function sameKv(a: IKeyValue | undefined, b: IKeyValue | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return keyOf(a) === keyOf(b) && a.value.equals(b.value);
}
