/**
 * Memory arithmetic of an embedding table: what R resident rows cost, and how many rows a byte
 * budget holds. Used to turn `eviction.maxBytes` into a row budget, by `tessera plan` and in
 * docs/capacity-planning.md.
 */
import { badConfig } from '../optimizers/config-check';
import { capacityFor, ID_INDEX_SLOT_BYTES } from './id-index';
import type { WeightFormat } from './row-storage';
import { TAGGED_ID_INDEX_SLOT_BYTES } from './tagged-id-index';

/**
 * Bytes per id-index slot of a table with `format` weights: `[lo, hi, row + 1]` (f32) or
 * `[tag, row + 1]` (f16), as uint32.
 */
export function indexSlotBytesFor(format: WeightFormat): number {
  return format === 'f16' ? TAGGED_ID_INDEX_SLOT_BYTES : ID_INDEX_SLOT_BYTES;
}

/** The id-index capacity (slots) that holds `rows` ids without growing. */
export function indexCapacityFor(rows: number): number {
  return capacityFor(rows);
}

/** Shape of a table for the arithmetic. */
export interface RowCost {
  /** bytes of one row slot in the slabs (weights + optimizer state) */
  rowBytes: number;
  /** bytes of one id-index slot (`indexSlotBytesFor`) */
  indexSlotBytes: number;
  /** per-row metadata in slab-sized arrays (eviction ticks and counts), 0 without eviction */
  metaBytes: number;
  slabRows: number;
  /** fixed bytes (an admission sketch) */
  fixedBytes: number;
  /** row slots outside the index (the shared unknown row) */
  extraSlots: number;
}

/** Largest bytes `rows` resident rows may occupy: index at its capacity for them, whole slabs. */
export function bytesForRows(rows: number, c: RowCost): number {
  const slabs = Math.ceil((rows + c.extraSlots) / c.slabRows);
  return indexCapacityFor(rows) * c.indexSlotBytes + slabs * c.slabRows * (c.rowBytes + c.metaBytes) + c.fixedBytes;
}

/** The most rows whose `bytesForRows` fits `budget` (0 when not even one does). */
export function rowsForBytes(budget: number, c: RowCost): number {
  let lo = 0;
  let hi = Math.floor(budget / (c.rowBytes + c.metaBytes)) + 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (bytesForRows(mid, c) <= budget) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * The resident-row budget an eviction config implies for a table of `cost` (`extraSlots` 1 with
 * the shared unknown row, which the budget includes); Infinity without a budget. A budget below
 * one slab is refused, naming the key.
 */
export function rowBudgetFor(cfg: { maxRows?: number; maxBytes?: number }, cost: RowCost): number {
  if (cfg.maxRows !== undefined) {
    if (cfg.maxRows < cost.slabRows) badConfig('eviction.maxRows', `must be at least one slab (${cost.slabRows} rows)`, cfg.maxRows);
    return cfg.maxRows - cost.extraSlots;
  }
  if (cfg.maxBytes === undefined) return Infinity;
  const rows = rowsForBytes(cfg.maxBytes, cost);
  if (rows < cost.slabRows) {
    badConfig('eviction.maxBytes', `holds ${rows} rows, less than one slab (${cost.slabRows} rows)`, cfg.maxBytes);
  }
  return rows;
}
