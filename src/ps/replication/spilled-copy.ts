/**
 * The disk-tier half of a replication full copy (issue 17, ADR 0037 amendment 5): after a reset,
 * each table with a disk tier is walked in key order, one slice of ids per batch, and the rows
 * found are read at that batch's cut like any changed row (`EmbeddingTable.readRows`: from the
 * tier, without loading them into RAM). So the copy never holds the spilled rows in memory, only
 * one slice of their ids, and the primary's event loop is held one slice at a time.
 *
 * Rows move while the walk goes on. A row still on the tier when the walk reaches it is read
 * then. A row that leaves the tier ahead of the walk (a pull or push loads it back, before the
 * walk reached its id) is reported by the table (`watchSpilled`) and listed as changed, so the
 * next cut reads it wherever it is then. A row spilled after the reset was resident at it (and
 * listed then) or created since; the walk may read it again, which only repeats a current value.
 * So when the walk ends and the listed rows are cut, the buddy holds every row of the table.
 *
 * ```ts
 * const copy = new SpilledCopy(node, (table, id) => log.listChanged(table, id));
 * copy.start();                              // at a reset
 * const slice = copy.next('user', 16_384);   // at a cut: ids to read, or undefined when done
 * ```
 */
import { bucketOf } from '../../sharding/buckets';
import type { PsNode } from '../ps-node';
import { EmbeddingTable } from '../store/embedding-table';

/**
 * Ids a walk takes in a batch of at most `maxRows` rows that already holds `rows`: what is left,
 * and at least a quarter of a batch, so the walk ends even while pushes fill every batch.
 */
export function walkSlice(maxRows: number, rows: number): number {
  return Math.max(maxRows - rows, Math.ceil(maxRows / 4), 1);
}

/** Where the walk of one table is: the last id it passed (null: not started). */
interface Walk {
  after: [number, number] | null;
}

/** (hi, lo) after (afterHi, afterLo), unsigned: the tier's key order. */
function ahead(lo: number, hi: number, after: readonly [number, number] | null): boolean {
  if (after === null) return true;
  return hi !== after[1] ? hi > after[1] : lo > after[0];
}

/** The walks of one full copy over the tables' disk tiers. */
export class SpilledCopy {
  private walks = new Map<string, Walk>();
  private readonly pair = new Uint32Array(2);

  /** @param listChanged lists id `(lo, hi)` (a pair) of `table` as changed since the last cut */
  constructor(private readonly node: PsNode, private readonly listChanged: (table: string, id: Uint32Array) => void) {}

  /** True while a walk has not reached the end of its tier. */
  get running(): boolean {
    return this.walks.size > 0;
  }

  /** Starts a walk of every table that spills (a walk under way starts over). */
  start(): void {
    this.stop();
    for (const info of this.node.store.list()) {
      const t = this.node.store.get(info.name);
      if (!(t instanceof EmbeddingTable) || !t.eviction?.spill) continue;
      const walk: Walk = { after: null };
      this.walks.set(t.name, walk);
      t.watchSpilled((lo, hi) => {
        if (!ahead(lo, hi, walk.after) || !this.owns(lo, hi)) return;
        this.pair[0] = lo;
        this.pair[1] = hi;
        this.listChanged(t.name, this.pair);
      });
    }
  }

  /** Ends every walk (the copy is abandoned, or a new one starts). */
  stop(): void {
    for (const name of this.walks.keys()) this.tableOf(name)?.watchSpilled(null);
    this.walks = new Map();
  }

  /** The tables being walked. */
  tables(): string[] {
    return [...this.walks.keys()];
  }

  /**
   * The next slice of table `name`'s walk: the ids of at most `limit` spilled rows of buckets
   * this PS owns, as pending rows; undefined when no walk of it is under way. The slice that
   * reaches the end of the tier ends the walk, and the table stops reporting rows that leave it.
   */
  next(name: string, limit: number): { ids: Uint32Array; n: number } | undefined {
    const walk = this.walks.get(name);
    if (!walk) return undefined;
    const t = this.tableOf(name);
    const s = t?.spilledIds(walk.after, limit);
    if (!t || !s || s.done) {
      t?.watchSpilled(null);
      this.walks.delete(name);
    } else {
      walk.after = s.last;
    }
    if (!s) return undefined;
    let n = 0;
    for (let k = 0; k < s.n; k++) {
      if (!this.owns(s.ids[2 * k], s.ids[2 * k + 1])) continue;
      s.ids[2 * n] = s.ids[2 * k];
      s.ids[2 * n + 1] = s.ids[2 * k + 1];
      n++;
    }
    return { ids: s.ids, n };
  }

  private owns(lo: number, hi: number): boolean {
    const owned = this.node.ownedBuckets;
    return owned === null || owned[bucketOf(lo, hi, this.node.bucketCount)] === 1;
  }

  private tableOf(name: string): EmbeddingTable | undefined {
    const t = this.node.store.has(name) ? this.node.store.get(name) : undefined;
    return t instanceof EmbeddingTable ? t : undefined;
  }
}
