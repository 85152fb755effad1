/**
 * Moves data between the feature transformer's per-table layout and the model's per-row layout.
 *
 * Transformer: for each table t, ids[t] holds B × F_t ids (one row's fields adjacent).
 * Model: emb is [B × F × D] and linear is [B × F], with the F = Σ F_t fields of a row adjacent,
 * tables in spec order. `gather` builds the model inputs from pulled rows; `scatter` splits the
 * model's gradients back into per-table push buffers. Fields dropped as missing (mask 0) get a
 * zero vector and no gradient.
 */
import type { ListInput } from '../model/types';
import type { ListSlots, TransformedBatch } from '../spec/transform';

/** Where one table's fields sit in a row's F fields. */
export interface TableSlot {
  name: string;
  /** Fields of this table per row. */
  fields: number;
  /** Offset of this table's first field within a row's F fields. */
  fieldOffset: number;
}

/** Plans the field layout once per job. */
export function planSlots(tables: readonly string[], fieldsPerTable: Record<string, readonly string[]>): { slots: TableSlot[]; numFields: number } {
  let offset = 0;
  const slots = tables.map((name) => {
    const fields = fieldsPerTable[name]?.length ?? 0;
    const slot = { name, fields, fieldOffset: offset };
    offset += fields;
    return slot;
  });
  return { slots: slots.filter((s) => s.fields > 0), numFields: offset };
}

/**
 * The model's list inputs for the transformer's `lists`: each one's field offset among a row's F
 * fields (and its target's), ordered by offset as the model wants them; `order[i]` is the
 * transformer's index of model list i (the column of `listLengths` it reads).
 */
export function planLists(slots: readonly TableSlot[], lists: readonly ListSlots[]): { inputs: ListInput[]; order: number[] } {
  const offsetOf = (table: string, slot: number): number => (slots.find((s) => s.name === table) as TableSlot).fieldOffset + slot;
  const planned = lists.map((l, i) => ({
    i,
    input: {
      offset: offsetOf(l.table, l.slot), length: l.maxLen, pooling: l.pooling,
      ...(l.targetSlot === undefined ? {} : { target: offsetOf(l.table, l.targetSlot) }),
    } as ListInput,
  })).sort((a, b) => a.input.offset - b.input.offset);
  return { inputs: planned.map((p) => p.input), order: planned.map((p) => p.i) };
}

/** `lengths` [B × n] with its columns in `order` (planLists); itself when already in order. */
export function orderedLengths(lengths: Float32Array, order: readonly number[], batch: number): Float32Array {
  if (order.every((o, i) => o === i)) return lengths;
  const n = order.length;
  const out = new Float32Array(batch * n);
  for (let b = 0; b < batch; b++) for (let i = 0; i < n; i++) out[b * n + i] = lengths[b * n + order[i]];
  return out;
}

/** The slot holds every field of a row and none is dropped: its rows are the model's rows as they are. */
export function wholeRow(slot: TableSlot, numFields: number, mask?: Uint8Array): boolean {
  return mask === undefined && slot.fieldOffset === 0 && slot.fields === numFields;
}

/**
 * Copies one table's pulled rows [B × F_t × width] into the model buffer [B × F × width].
 * `mask` (1 = present) zeroes dropped fields.
 */
export function gatherTable(rows: Float32Array, slot: TableSlot, numFields: number, width: number, batch: number,
  out: Float32Array, mask?: Uint8Array): void {
  const rowWidth = slot.fields * width;
  // One table for all fields (the common DeepFM job): one memcpy instead of a loop per float.
  if (wholeRow(slot, numFields, mask)) { out.set(rows.subarray(0, batch * rowWidth)); return; }
  for (let b = 0; b < batch; b++) {
    const src = b * rowWidth;
    const dst = (b * numFields + slot.fieldOffset) * width;
    for (let k = 0; k < rowWidth; k++) out[dst + k] = rows[src + k];
    if (mask) {
      for (let f = 0; f < slot.fields; f++) {
        if (mask[b * slot.fields + f] === 0) out.fill(0, dst + f * width, dst + (f + 1) * width);
      }
    }
  }
}

/** The reverse of gatherTable: the model's gradient for one table's fields, [B × F_t × width]. */
export function scatterTable(grad: Float32Array, slot: TableSlot, numFields: number, width: number, batch: number,
  mask?: Uint8Array): Float32Array {
  const rowWidth = slot.fields * width;
  // One table for all fields: the gradient is already laid out per row (a step's result is its
  // own, so it is handed on rather than copied: 1.7 MB a DeepFM step at batch 1,024).
  if (wholeRow(slot, numFields, mask)) return grad.subarray(0, batch * rowWidth);
  const out = new Float32Array(batch * rowWidth);
  for (let b = 0; b < batch; b++) {
    const src = (b * numFields + slot.fieldOffset) * width;
    const dst = b * rowWidth;
    for (let k = 0; k < rowWidth; k++) out[dst + k] = grad[src + k];
    if (mask) {
      for (let f = 0; f < slot.fields; f++) {
        if (mask[b * slot.fields + f] === 0) out.fill(0, dst + f * width, dst + (f + 1) * width);
      }
    }
  }
  return out;
}

/**
 * Ids of a table restricted to present fields (mask 1), with the matching rows of `grads` and,
 * when given, the matching pulled row versions (`readVersions`, for push staleness).
 */
export function presentOnly(ids: Uint32Array, grads: Float32Array, width: number, mask?: Uint8Array, versions?: Uint32Array):
  { ids: Uint32Array; grads: Float32Array; readVersions?: Uint32Array } {
  const all = !mask || mask.every((m) => m === 1);
  if (all) return versions ? { ids, grads, readVersions: versions } : { ids, grads };
  let n = 0;
  for (let i = 0; i < mask.length; i++) n += mask[i];
  const outIds = new Uint32Array(2 * n);
  const outGrads = new Float32Array(n * width);
  const outVersions = versions ? new Uint32Array(n) : undefined;
  for (let i = 0, j = 0; i < mask.length; i++) {
    if (mask[i] === 0) continue;
    outIds[2 * j] = ids[2 * i];
    outIds[2 * j + 1] = ids[2 * i + 1];
    outGrads.set(grads.subarray(i * width, (i + 1) * width), j * width);
    if (outVersions) outVersions[j] = versions![i];
    j++;
  }
  return outVersions ? { ids: outIds, grads: outGrads, readVersions: outVersions } : { ids: outIds, grads: outGrads };
}

/**
 * The ids of the present slots (mask 1) only, or null when every slot is present: what a read
 * asks for, so an absent slot (a padded list slot, a dropped value) neither creates a row on the
 * PS nor costs a lookup.
 */
export function presentIds(ids: Uint32Array, mask?: Uint8Array): Uint32Array | null {
  if (!mask || mask.every((m) => m === 1)) return null;
  let n = 0;
  for (let i = 0; i < mask.length; i++) n += mask[i];
  const out = new Uint32Array(2 * n);
  for (let i = 0, j = 0; i < mask.length; i++) {
    if (mask[i] === 0) continue;
    out[2 * j] = ids[2 * i];
    out[2 * j + 1] = ids[2 * i + 1];
    j++;
  }
  return out;
}

/** The reverse of presentIds for what was read: `width` values per slot, zeros at absent slots. */
export function expandPresent<T extends Float32Array | Uint32Array>(read: T, mask: Uint8Array, width: number, make: (n: number) => T): T {
  const out = make(mask.length * width);
  for (let i = 0, j = 0; i < mask.length; i++) {
    if (mask[i] === 0) continue;
    out.set(read.subarray(j * width, (j + 1) * width), i * width);
    j++;
  }
  return out;
}

/** The mask of a table in a batch, if the transformer produced one. */
export function maskOf(batch: TransformedBatch, table: string): Uint8Array | undefined {
  return batch.mask?.[table];
}
