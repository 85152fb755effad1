/**
 * The rounds of one migration step, free of transport and etcd (issue 17): every source copies
 * its moving buckets to its target, runs unfenced tail rounds until its tail is small, keeps
 * sending small tails while another source is still catching up, and only when every source has
 * caught up (and none is mid-round) do all of them fence together. So a source's fence never covers another source's
 * copy, and each fenced round carries only what changed during one short round. The chief's
 * migration driver and bench:reshard both run a step through `runRounds`.
 *
 * ```ts
 * const figures = await runRounds(peers, { id: 'mig-v2', fromVersion: 1, moves: [{ source, target, buckets }] });
 * ```
 */
import type { MigrationBegin } from '../client/migration-peers';
import { ERROR_CODES, TesseraError } from '../common/errors';

/** One round as the source reports it. */
export interface RoundFigures {
  rows: number;
  micros: number;
}

/** The source's calls of a migration (BeginMigration and SendTail). */
export interface RoundPeers {
  begin(addr: string, req: MigrationBegin): Promise<RoundFigures>;
  tail(addr: string, migrationId: string, fence: boolean): Promise<RoundFigures>;
}

/** One source's part of a step: its buckets go to one target. */
export interface SourceMove {
  source: string;
  /** The source's PS id: its dedup windows go to the target under it (ADR 0043). */
  sourceId: number;
  target: string;
  buckets: number[];
}

/** What one source's rounds did, with the times (of `now`) of its fence. */
export interface SourceRounds {
  source: string;
  target: string;
  /** Rows sent by every round, fenced one included. */
  rows: number;
  copyRows: number;
  copyMs: number;
  /** Unfenced tail rounds sent. */
  tails: number;
  fencedRows: number;
  /** The fenced round on the source: cut to the target's acknowledgement. */
  fencedRoundMs: number;
  /** The SendTail call that fenced, as the caller saw it (the round plus its RPC). */
  fenceCallMs: number;
  /** When the fencing SendTail was sent, and when it answered. */
  fencedAt: number;
  fenceAnsweredAt: number;
}

/**
 * A tail at most this large, or sent in at most FENCE_WHEN_MS, is caught up: another unfenced
 * round would not make the fenced one much shorter (a round has a fixed cost of a cut and a
 * stream whatever it carries).
 */
const FENCE_WHEN_ROWS = 1024;
const FENCE_WHEN_MS = 40;
/** Unfenced tails before a source counts as caught up even when its tails do not shrink (pushes outrun the copy). */
const MAX_CATCH_UP_TAILS = 8;
/**
 * A caught-up source waiting for another sends a tail this often, so its fenced round carries at
 * most this long's changes however long the other takes.
 */
const WAIT_TAIL_MS = 100;

/** Options of `runRounds`. */
export interface RoundsOptions {
  id: string;
  /** The shard-map version the sources serve (the migration's `from`). */
  fromVersion: number;
  moves: readonly SourceMove[];
  now?: () => number;
}

/**
 * Runs every source's copy, tails and fenced tail (see the file comment). Resolves once every
 * fenced round is on its target; rejects with the first failure once every source has stopped
 * sending (a rollback must not race a stream).
 */
export async function runRounds(peers: RoundPeers, opts: RoundsOptions): Promise<SourceRounds[]> {
  const now = opts.now ?? Date.now;
  const barriers = { caughtUp: new SourceBarrier(opts.moves.length), idle: new SourceBarrier(opts.moves.length) };
  const out = await Promise.allSettled(opts.moves.map(async (m) => {
    try {
      return await oneSource(peers, opts, m, barriers, now);
    } catch (err) {
      barriers.caughtUp.fail(err);
      barriers.idle.fail(err);
      throw err;
    }
  }));
  if (barriers.caughtUp.failure) throw barriers.caughtUp.failure.cause;
  return out.map((r) => (r as PromiseFulfilledResult<SourceRounds>).value);
}

async function oneSource(
  peers: RoundPeers, opts: RoundsOptions, m: SourceMove, barriers: { caughtUp: SourceBarrier; idle: SourceBarrier }, now: () => number,
): Promise<SourceRounds> {
  const t0 = now();
  const copy = await peers.begin(m.source, { migrationId: opts.id, buckets: m.buckets, targetAddr: m.target, shardMapVersion: opts.fromVersion, sourceId: m.sourceId });
  const copyMs = now() - t0;
  let rows = copy.rows;
  let tails = 0;
  let last = copy;
  while (!caughtUp(last) && tails < MAX_CATCH_UP_TAILS) {
    last = await peers.tail(m.source, opts.id, false);
    rows += last.rows;
    tails++;
  }
  barriers.caughtUp.arrive();
  while (!(await barriers.caughtUp.wait(WAIT_TAIL_MS))) {
    last = await peers.tail(m.source, opts.id, false);
    rows += last.rows;
    tails++;
  }
  // A source may be mid-tail when the last one catches up: all fence once none is, so that no
  // fence waits through another source's unfenced round.
  barriers.idle.arrive();
  while (!(await barriers.idle.wait(WAIT_TAIL_MS))) { /* another source is mid-tail */ }
  const fencedAt = now();
  const fenced = await peers.tail(m.source, opts.id, true);
  const fenceAnsweredAt = now();
  return {
    source: m.source, target: m.target, rows: rows + fenced.rows, copyRows: copy.rows, copyMs, tails, fencedRows: fenced.rows,
    fencedRoundMs: fenced.micros / 1000, fenceCallMs: fenceAnsweredAt - fencedAt, fencedAt, fenceAnsweredAt,
  };
}

function caughtUp(r: RoundFigures): boolean {
  return r.rows <= FENCE_WHEN_ROWS || r.micros <= FENCE_WHEN_MS * 1000;
}

/** Sources that reached a point (caught up; between rounds): opens once all have, and fails every waiter once one source failed. */
class SourceBarrier {
  private arrived = 0;
  /** The first source's failure (the others stop at the barrier). */
  failure: { cause: unknown } | null = null;
  private open = false;
  private readonly waiters = new Set<() => void>();

  constructor(private readonly sources: number) {}

  arrive(): void {
    if (++this.arrived >= this.sources) this.wake(() => { this.open = true; });
  }

  fail(cause: unknown): void {
    if (!this.failure) this.wake(() => { this.failure = { cause }; });
  }

  /**
   * True once every source has arrived; false after `ms` without that (a caught-up source sends
   * another tail). Rejects once another source failed: this one stops sending, unfenced.
   */
  async wait(ms: number): Promise<boolean> {
    if (!this.open && !this.failure) {
      let timer: NodeJS.Timeout | undefined;
      let wake!: () => void;
      await new Promise<void>((resolve) => {
        wake = resolve;
        this.waiters.add(wake);
        timer = setTimeout(resolve, ms);
      });
      clearTimeout(timer);
      this.waiters.delete(wake);
    }
    if (this.failure) throw new TesseraError(ERROR_CODES.UNAVAILABLE, 'another source of the migration failed; this one stops before its fence');
    return this.open;
  }

  private wake(set: () => void): void {
    set();
    for (const w of this.waiters) w();
  }
}

/**
 * The stages of a source's fence, in order: its fenced round on the source (cut to the target's
 * acknowledgement), the rest of the SendTail call (RPC), waiting for the other sources' fenced
 * rounds, the commit, and the new map's install on the source and its target.
 */
export interface FenceStages {
  roundMs: number;
  rpcMs: number;
  othersMs: number;
  commitMs: number;
  installMs: number;
}

/**
 * Source `s`'s fence and where it went. It ends once the new map is on both the source (a push
 * it refused as moving is then refused as routed by an old map, and its client re-routes) and
 * the target (which then takes it); PS outside the move do not hold it up. `installedAt(addr)`:
 * when that PS had the new map; times are of the `now` the rounds ran with; `all` holds every
 * source of the step.
 */
export function fenceOf(s: SourceRounds, all: readonly SourceRounds[], committed: number, installedAt: (addr: string) => number): { fenceMs: number; stages: FenceStages } {
  const lastAnswer = Math.max(...all.map((o) => o.fenceAnsweredAt));
  const over = Math.max(installedAt(s.source), installedAt(s.target));
  return {
    fenceMs: over - s.fencedAt,
    stages: {
      roundMs: s.fencedRoundMs, rpcMs: s.fenceCallMs - s.fencedRoundMs, othersMs: lastAnswer - s.fenceAnsweredAt, commitMs: committed - lastAnswer, installMs: over - committed,
    },
  };
}
