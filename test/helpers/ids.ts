/**
 * Id helpers for tests: de-duplication through the client's real `Deduper` into exactly sized
 * arrays (the training path reuses caller-owned buffers instead).
 */
import { Deduper } from '../../src/sharding/dedup';

/** Distinct ids of `ids` in first-occurrence order, and each input id's index into them. */
export function dedup(ids: Uint32Array): { unique: Uint32Array; inverse: Uint32Array } {
  const unique = new Uint32Array(ids.length);
  const inverse = new Uint32Array(ids.length >>> 1);
  const k = new Deduper().dedupInto(ids, unique, inverse);
  return { unique: unique.slice(0, 2 * k), inverse };
}
