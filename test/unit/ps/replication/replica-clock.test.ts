/**
 * Issue 17 §2: a promoted replica's rows have the ages they had on the primary. The buddy moves
 * each row's tick from the primary's `ttl_steps` clock into its own by the primary's clock of the
 * newest batch; a step whose request touched no row of the primary (the empty request a step
 * sends each PS it touches no row of) ticked that clock and sent no row, so the replica's clock
 * stayed a step behind and every promoted row came out a step young.
 */
import { expect } from 'chai';
import { silentLogger } from '../../../../src/common/logger';
import { PsNode } from '../../../../src/ps/ps-node';
import { ReplicaStore } from '../../../../src/ps/replication/replica-store';
import { ReplicationLog } from '../../../../src/ps/replication/replication-log';
import { Encoding } from '../../../../src/wire/data-plane-codec';
import { asBytes } from '../../../../src/wire/key-block';

const NB = 16;
const WORKER = 5n;

function node(): PsNode {
  const n = new PsNode({ config: { maxRequestBytes: 1 << 24 }, logger: silentLogger() });
  n.createTable({ name: 'emb', kind: 'embedding', dim: 2, optimizer: { kind: 'adagrad', lr: 0.1 }, seed: 7, eviction: { ttlSteps: 50 } });
  n.setShardMap(1, NB, null);
  return n;
}
const ids = (xs: number[]) => Uint32Array.from(xs.flatMap((x) => [x, 0]));
/** Step `step`'s push request to `n`: its rows `xs` (none: the step's empty request). */
const push = (n: PsNode, xs: number[], step: number) => n.push({
  table: 'emb', shardMapVersion: 1, ids: asBytes(ids(xs)), grads: asBytes(new Float32Array(xs.length * 2).fill(0.5)),
  encoding: Encoding.F32, stepTag: { client: WORKER, step },
});

/** id → age (at the table's clock) and use count of every resident row of `n`'s table. */
function ages(n: PsNode): Map<number, string> {
  const t = n.store.getEmbedding('emb');
  const clock = t.evictionClock();
  const s = t.evictionMetaSlice(new Uint8Array(NB).fill(1), null, 0, 1 << 20)!;
  const m = new Map<number, string>();
  for (let k = 0; k < s.ids.length >>> 1; k++) m.set(s.ids[2 * k], `${(clock - s.words[2 * k]) >>> 0},${s.words[2 * k + 1]}`);
  return m;
}

describe('buddy replication of the ttl_steps clock (issue 17)', () => {
  it('promoted rows have the primary\'s ages when the primary\'s last steps touched none of its rows', async () => {
    const primary = node();
    const buddy = node();
    const log = new ReplicationLog(primary, { primaryId: 3 });
    primary.onApplied = (t, i, c, s, r, g) => log.applied(t, i, c, s, r, g);
    const store = new ReplicaStore(buddy);
    const ship = () => {
      const b = log.cut(1 << 16);
      if (!b) return;
      store.apply(b);
      log.acked(b);
    };
    // Both PS take every step of one worker (the buddy its own rows): their clocks count alike.
    for (let step = 1; step <= 4; step++) {
      push(primary, step % 2 === 0 ? [1, 2, 3] : [1], step);
      push(buddy, [100 + step], step);
      ship();
    }
    for (let step = 5; step <= 6; step++) {
      push(primary, [], step); // this step touched no row of the primary
      push(buddy, [100 + step], step);
      ship();
    }
    await store.promote(3, new Uint8Array(NB).fill(1));
    const promoted = new Map([...ages(buddy)].filter(([id]) => id < 100));
    expect(promoted.size).to.equal(3);
    expect(promoted).to.deep.equal(ages(primary));
  });
});
