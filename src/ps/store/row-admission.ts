/**
 * Feature admission of one embedding table (ADR 0011): a missing id gets a row only once a
 * count-min sketch has seen it in `minCount` pulls. A pull is a sighting; a push only checks (its
 * id was counted when it was pulled). Until then the id reads zeros or the shared unknown row,
 * and its gradients are dropped or train that row (the table's side, embedding-table.ts).
 */
import { CountMinSketch } from './count-min-sketch';
import type { AdmissionConfig } from './table-options';

/** What admission counts, in the table's counters. */
export interface AdmissionCounts {
  /** ids given a row through admission */
  admitted: number;
  /** sightings (pulled ids) refused a row by admission */
  rejected: number;
  /** pushed rows whose gradient was dropped because the id was not admitted */
  droppedGradients: number;
}

/** The sketch and the admission decision of one table. */
export class RowAdmission {
  private readonly sketch: CountMinSketch;
  private readonly minCount: number;

  constructor(cfg: Readonly<Required<AdmissionConfig>>, private readonly counts: AdmissionCounts) {
    this.sketch = new CountMinSketch(cfg.sketchWidth, cfg.sketchDepth);
    this.minCount = cfg.minCount;
  }

  /** Bytes of the sketch. */
  bytes(): number {
    return this.sketch.bytes();
  }

  /**
   * True when the missing id `(lo, hi)` gets a row now. A pull counts a sighting first; either
   * way the outcome is counted (admitted, rejected, or a dropped gradient).
   */
  admit(lo: number, hi: number, isPush: boolean): boolean {
    const seen = isPush ? this.sketch.estimate(lo, hi) : this.sketch.add(lo, hi);
    if (seen >= this.minCount) {
      this.counts.admitted++;
      return true;
    }
    if (isPush) this.counts.droppedGradients++;
    else this.counts.rejected++;
    return false;
  }

  /** The sketch's counters (`CountMinSketch.cellsAbove`, `mergeCells`): a migration moves them. */
  get counters(): CountMinSketch {
    return this.sketch;
  }

  /** True when the sketch has seen `(lo, hi)` at least `minCount` times; counts and changes nothing. */
  seenEnough(lo: number, hi: number): boolean {
    return this.sketch.estimate(lo, hi) >= this.minCount;
  }
}
