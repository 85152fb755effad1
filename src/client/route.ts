/**
 * What a request is routed by: one shard map and a connection per PS in its order. A request
 * keeps the route it was sliced with, so that its PS index and its map version agree even when
 * the fleet has moved to a newer map meanwhile.
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { ShardMap } from '../sharding/shard-map';
import { sliceByOwner, Slice } from '../sharding/slicer';
import type { IdArray } from '../wire/key-block';
import type { PsConnection } from '../wire/ps-connection';

/** A shard map and the connections to its PS, in shard-map order. */
export interface Route {
  readonly map: ShardMap;
  readonly conns: readonly PsConnection[];
}

/** True for a PS's refusal of a request routed with a shard-map version it does not serve. */
export function isStaleMap(err: unknown): boolean {
  return err instanceof TesseraError && err.code === ERROR_CODES.STALE_SHARD_MAP;
}

/**
 * Slices ids [from, to) of `slice` again by `map`. The new slices' positions index the same
 * batch as `slice`'s, so the caller's gather and stitch work on them unchanged.
 */
export function resliceByMap(slice: Slice, from: number, to: number, map: ShardMap): Slice[] {
  const ids: IdArray = slice.ids.subarray(2 * from, 2 * to);
  return sliceByOwner(ids, map).map((s) => ({ ...s, positions: s.positions.map((p) => slice.positions[from + p]) }));
}
