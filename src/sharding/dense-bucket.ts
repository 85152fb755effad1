/**
 * Where a dense table lives: in the bucket of its name's hash (salted as a feature field would
 * be), so it sits on the PS owning that bucket and moves with it when the bucket migrates.
 */
import { bucketOf } from './buckets';
import { hashFeature } from './feature-hash';

/** Field name that salts the hash placing a dense table (as a feature field would). */
const DENSE_SALT_FIELD = '__tessera_dense_table__';

/** The bucket dense table `table` lives in, of `numBuckets`. */
export function denseBucket(table: string, numBuckets: number): number {
  const h = hashFeature(DENSE_SALT_FIELD, table);
  return bucketOf(Number(h & 0xffffffffn), Number(h >> 32n), numBuckets);
}
