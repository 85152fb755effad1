/**
 * Which PS a job uses, from the live `ps` members and the stored shard map. Pure.
 *
 * A PS member id ends in its number (`ps-0`, `tessera-ps-3`: a StatefulSet ordinal), which is
 * the shard map's stable PS id. The first map takes the `expected` lowest-numbered live PS. After
 * that the map's PS set is fixed (buckets hold rows, so a new PS cannot just take some): a
 * restarted PS keeps its number and, if its address changed, the map is republished with the
 * new address and the same owners.
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { Member } from '../membership/membership';
import { planShardMap, PsEndpoint, ShardMap } from '../sharding/shard-map';
import { psNumber } from '../sharding/ps-number';

export { psNumber };

export type PsSetDecision =
  | { kind: 'wait'; reason: string }
  | { kind: 'ready'; map: ShardMap; publish: boolean };

/** Decides the shard map for the live PS members given the stored map (if any). */
export function decidePsSet(live: readonly Member[], stored: ShardMap | undefined, expected: number): PsSetDecision {
  const byNumber = new Map<number, Member>();
  for (const m of live) {
    const n = psNumber(m.id);
    const other = byNumber.get(n);
    if (other) throw new TesseraError(ERROR_CODES.CONFIG, `PS ids "${other.id}" and "${m.id}" share the number ${n}`);
    byNumber.set(n, m);
  }
  if (stored === undefined) {
    const numbers = [...byNumber.keys()].sort((a, b) => a - b);
    if (numbers.length < expected) return { kind: 'wait', reason: `${numbers.length} of ${expected} PS registered` };
    const ps: PsEndpoint[] = numbers.slice(0, expected).map((id) => ({ id, addr: byNumber.get(id)!.addr }));
    return { kind: 'ready', map: planShardMap(ps), publish: true };
  }
  const missing = stored.ps.filter((p) => !byNumber.has(p.id));
  if (missing.length > 0) return { kind: 'wait', reason: `PS ${missing.map((p) => p.id).join(', ')} of the shard map not registered` };
  const moved = stored.ps.some((p) => byNumber.get(p.id)!.addr !== p.addr);
  if (!moved) return { kind: 'ready', map: stored, publish: false };
  const ps = stored.ps.map((p) => ({ id: p.id, addr: byNumber.get(p.id)!.addr }));
  return { kind: 'ready', map: { ...stored, version: stored.version + 1, ps }, publish: true };
}
