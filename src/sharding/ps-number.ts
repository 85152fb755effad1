/**
 * A PS member id ends in its number (`ps-0`, `tessera-ps-3`: a StatefulSet ordinal), and that
 * number is the PS's stable id in the shard map. The chief reads it from etcd members
 * (chief/ps-set.ts); a PS process running several shards derives its shards' ids from it
 * (ps/shard-layout.ts).
 */
import { ERROR_CODES, TesseraError } from '../common/errors';

/** The numeric PS id of a member id (its trailing digits). */
export function psNumber(memberId: string): number {
  const m = /(\d+)$/.exec(memberId);
  if (!m || !Number.isSafeInteger(Number(m[1]))) {
    throw new TesseraError(ERROR_CODES.CONFIG, `PS id "${memberId}" must end in its number (ps-0, ps-1, …): the number is its place in the shard map`);
  }
  return Number(m[1]);
}
