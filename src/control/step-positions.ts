/**
 * A worker's data positions once a training step is trained, as its pushes carry them to the PS
 * for a cut at per-worker step numbers (ADR 0040): who the worker is (id and registration
 * incarnation, so the chief can leave out a dead worker or the old process of a restarted one)
 * and, per shard or stream partition it trains, the fields of the Progress record it would
 * commit after that step. The chief decodes them (`decodeStepPositions`) and lays them over the
 * committed records (`overProgress`). Compact JSON (an array per shard): a few dozen bytes per
 * shard, encoded once per step.
 *
 * ```ts
 * const positions = new StepPositions({ worker: 'w0', incarnation: () => reg.incarnation });
 * positions.set({ shard: 3, epoch: 0, next: 4096, rows: 120, steps: 4 });  // before the step's push
 * const bytes = positions.encode();                                           // its StepTag.positions
 * ```
 */
import type { Progress } from './job-types';

const UTF8 = new TextEncoder();
const UTF8_IN = new TextDecoder();

/** Where a shard stands after a step: the Progress fields a step moves. */
export type ShardPosition = Pick<Progress, 'shard' | 'epoch' | 'next' | 'rows' | 'steps'> & { entry?: string };

/** What a step's pushes say of their worker. */
export interface DecodedStepPositions {
  worker: string;
  incarnation: string;
  /**
   * Counts the worker process's position updates: of two step ids of one process (its main
   * thread's and a data thread's, or two data threads'), the higher `seq` is the newer.
   */
  seq: number;
  shards: ShardPosition[];
}

/** The positions a worker's next push carries; set before each step's push. */
export class StepPositions {
  private readonly shards = new Map<number, ShardPosition>();
  private bytes: Uint8Array | null = null;
  private seq = 0;

  constructor(private readonly who: { worker: string; incarnation: () => string }) {}

  /** Where `p.shard` stands once the step about to be pushed is trained. */
  set(p: ShardPosition): void {
    this.shards.set(p.shard, p);
    this.seq++;
    this.bytes = null;
  }

  /** Forgets a shard this worker no longer trains (done, or taken back). */
  drop(shard: number): void {
    if (this.shards.delete(shard)) {
      this.seq++;
      this.bytes = null;
    }
  }

  /** The positions as the push tags carry them (cached until the next change). */
  encode(): Uint8Array {
    this.bytes ??= UTF8.encode(JSON.stringify([this.who.worker, this.who.incarnation(), this.seq,
      [...this.shards.values()].map((s) => [s.shard, s.epoch, s.next, s.rows, s.steps, s.entry ?? null])]));
    return this.bytes;
  }
}

/** The positions a push carried; undefined when they are not a worker's (empty, or another encoding). */
export function decodeStepPositions(bytes: Uint8Array): DecodedStepPositions | undefined {
  if (bytes.length === 0) return undefined;
  try {
    const [worker, incarnation, seq, shards] = JSON.parse(UTF8_IN.decode(bytes)) as [string, string, number, [number, number, number, number, number, string | null][]];
    if (typeof worker !== 'string' || typeof incarnation !== 'string' || typeof seq !== 'number' || !Array.isArray(shards)) return undefined;
    return {
      worker, incarnation, seq,
      shards: shards.map(([shard, epoch, next, rows, steps, entry]) => ({ shard, epoch, next, rows, steps, ...(entry !== null ? { entry } : {}) })),
    };
  } catch {
    return undefined;
  }
}

/** The committed record `committed` moved to position `p` (its loss and staleness are the committed ones). */
export function overProgress(committed: Progress | undefined, p: ShardPosition, worker: string): Progress {
  return { loss: null, done: false, ...committed, ...p, worker };
}
