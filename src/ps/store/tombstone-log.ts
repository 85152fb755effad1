/**
 * The ids a table has evicted, with the snapshot epoch of each eviction, so an incremental
 * checkpoint can list the rows deleted since its base and a restored chain ends exactly where the
 * table was. Entries older than every snapshot that may still serve as a base are pruned.
 */

/** Evicted ids, append-only between prunes: `[lo, hi, epoch]` per entry. */
export class TombstoneLog {
  private words = new Uint32Array(0);
  private count = 0;

  /** Entries held. */
  get size(): number {
    return this.count;
  }

  bytes(): number {
    return this.words.byteLength;
  }

  /** Records that id `(lo, hi)` was removed at `epoch`. */
  add(lo: number, hi: number, epoch: number): void {
    if (3 * (this.count + 1) > this.words.length) {
      const grown = new Uint32Array(Math.max(3 * 1024, this.words.length * 2));
      grown.set(this.words);
      this.words = grown;
    }
    const b = 3 * this.count++;
    this.words[b] = lo;
    this.words[b + 1] = hi;
    this.words[b + 2] = epoch;
  }

  /** Ids (lo, hi pairs) removed at `epoch >= since`, in removal order. */
  since(since: number): Uint32Array {
    const w = this.words;
    let n = 0;
    for (let k = 0; k < this.count; k++) if (w[3 * k + 2] >= since) n++;
    const out = new Uint32Array(2 * n);
    let j = 0;
    for (let k = 0; k < this.count; k++) {
      if (w[3 * k + 2] < since) continue;
      out[j++] = w[3 * k];
      out[j++] = w[3 * k + 1];
    }
    return out;
  }

  /** Drops entries with `epoch < minEpoch` (no snapshot older than that can be a base any more). */
  prune(minEpoch: number): void {
    const w = this.words;
    let j = 0;
    for (let k = 0; k < this.count; k++) {
      if (w[3 * k + 2] < minEpoch) continue;
      if (j !== k) w.copyWithin(3 * j, 3 * k, 3 * k + 3);
      j++;
    }
    this.count = j;
  }

  clear(): void {
    this.count = 0;
    this.words = new Uint32Array(0);
  }
}
