/**
 * One disk-tier record (ADR 0012), little-endian as the slabs: `[stamp u32 | gen u32 | state f32 ×
 * stateWidth | weights × dim]`, weights as float32 or as fp16 bits for `f16` tables. `stamp` is
 * the row's checkpoint change stamp (slot-meta.ts), so an incremental checkpoint still sees
 * whether it changed; `gen` is the table's snapshot generation at the spill (tier-snapshot.ts).
 * Written and read by tier-rows.ts, read by the checkpoint's tier reader (tier-snapshot.ts).
 */

const HEADER_BYTES = 8;

/** Byte layout of one record. */
export interface TierRecordLayout {
  readonly dim: number;
  readonly stateWidth: number;
  readonly f16: boolean;
  readonly bytes: number;
}

/** The layout of a table's records. */
export function recordLayout(dim: number, stateWidth: number, f16: boolean): TierRecordLayout {
  return { dim, stateWidth, f16, bytes: HEADER_BYTES + 4 * stateWidth + (f16 ? 2 : 4) * dim };
}

/** Typed views over one record's bytes (copied to an aligned buffer). */
export class TierRecord {
  readonly bytes: Uint8Array;
  readonly header: Uint32Array;
  readonly state: Float32Array;
  readonly weights: Float32Array | Uint16Array;

  constructor(readonly layout: TierRecordLayout) {
    const buf = new ArrayBuffer(Math.ceil(layout.bytes / 4) * 4);
    this.bytes = new Uint8Array(buf, 0, layout.bytes);
    this.header = new Uint32Array(buf, 0, 2);
    this.state = new Float32Array(buf, HEADER_BYTES, layout.stateWidth);
    const wOff = HEADER_BYTES + 4 * layout.stateWidth;
    this.weights = layout.f16 ? new Uint16Array(buf, wOff, layout.dim) : new Float32Array(buf, wOff, layout.dim);
  }

  /** Copies `src` (one record as stored) into this record's aligned bytes. */
  load(src: Uint8Array): this {
    this.bytes.set(src.subarray(0, this.layout.bytes));
    return this;
  }

  get stamp(): number { return this.header[0]; }
  get gen(): number { return this.header[1]; }
}
