/**
 * Issue 17 §2: rows the primary's eviction drops reach its buddy as tombstones, so a promoted
 * replica holds the primary's table as of the last batch, without the rows evicted by then; and
 * the rows' eviction metadata and the admission counts go with them (replicated-meta.ts), with
 * the primary's `ttl_steps` clock even when a push left no row to send.
 */
import { expect } from 'chai';
import { silentLogger } from '../../../../src/common/logger';
import { PsNode } from '../../../../src/ps/ps-node';
import { ReplicaStore } from '../../../../src/ps/replication/replica-store';
import { ReplicationLog } from '../../../../src/ps/replication/replication-log';
import { Encoding } from '../../../../src/wire/data-plane-codec';
import { asBytes } from '../../../../src/wire/key-block';

const NB = 16;
function node(): PsNode {
  const n = new PsNode({ config: { maxRequestBytes: 1 << 24 }, logger: silentLogger() });
  n.createTable({
    name: 'emb', kind: 'embedding', dim: 2, optimizer: { kind: 'adagrad', lr: 0.1 }, seed: 7,
    admission: { minCount: 2, sketchWidth: 1 << 12 }, eviction: { ttlSteps: 3 },
  });
  n.setShardMap(1, NB, null);
  return n;
}
const ids = (xs: number[]) => Uint32Array.from(xs.flatMap((x) => [x, 0]));
const pull = (n: PsNode, xs: number[]) => n.pull({ table: 'emb', shardMapVersion: 1, ids: asBytes(ids(xs)), encoding: Encoding.F32 }, (b) => new Uint8Array(b));
const push = (n: PsNode, xs: number[]) => n.push({ table: 'emb', shardMapVersion: 1, ids: asBytes(ids(xs)), grads: asBytes(new Float32Array(xs.length * 2).fill(0.5)), encoding: Encoding.F32 });

/** id → age (at the table's clock) and use count of every resident row of `n`'s table. */
function ages(n: PsNode): Map<number, string> {
  const t = n.store.getEmbedding('emb');
  const clock = t.evictionClock();
  const s = t.evictionMetaSlice(new Uint8Array(NB).fill(1), null, 0, 1 << 20)!;
  const m = new Map<number, string>();
  for (let k = 0; k < s.ids.length >>> 1; k++) m.set(s.ids[2 * k], `${(clock - s.words[2 * k]) >>> 0},${s.words[2 * k + 1]}`);
  return m;
}

/** id → weights and state of every resident row of `n`'s table. */
function table(n: PsNode): Map<number, string> {
  const m = new Map<number, string>();
  n.store.getEmbedding('emb').forEachRow((lo, _hi, w, s) => m.set(lo, [...w, ...s].join(',')));
  return m;
}

/** A primary (id 3) replicating to its buddy; `ship()` cuts a batch, if any, and applies it there. */
function replicated() {
  const primary = node();
  const buddy = node();
  const log = new ReplicationLog(primary, { primaryId: 3 });
  primary.onApplied = (t, i, c, s, r, g) => log.applied(t, i, c, s, r, g);
  const store = new ReplicaStore(buddy);
  const ship = () => {
    const b = log.cut(1 << 16);
    if (b) {
      store.apply(b);
      log.acked(b);
    }
    return b;
  };
  return { primary, buddy, store, ship };
}

describe('buddy replication of evictions (issue 17)', () => {
  it('a promoted replica equals the primary\'s table after evictions: evicted rows come back as tombstones, not as rows', async () => {
    const { primary, buddy, store, ship } = replicated();
    for (let i = 0; i < 2; i++) pull(primary, [1, 2, 3, 4, 5, 10, 11]);
    pull(primary, [20, 21]); // seen once: not admitted yet
    push(primary, [1, 2, 3, 4, 5]);
    ship();
    for (let i = 0; i < 5; i++) push(primary, i % 2 === 0 ? [10, 11] : [10]); // rows 1..5 pass their TTL and are swept
    expect(primary.store.getEmbedding('emb').memoryCounters().evicted.ttl).to.equal(5);
    const b = ship()!;
    expect(b.chunks.length, 'the batch carries the tombstones').to.be.greaterThan(0);
    await store.promote(3, new Uint8Array(NB).fill(1));
    expect(table(buddy)).to.deep.equal(table(primary));
    expect([...table(buddy).keys()].sort((x, y) => x - y)).to.deep.equal([10, 11]);
    expect(ages(buddy), 'ages and use counts').to.deep.equal(ages(primary));
    pull(buddy, [20, 21]);
    expect(buddy.store.getEmbedding('emb').has(20, 0), 'an id seen once on the primary is admitted at its second sighting').to.equal(true);
  });

  it('promoted rows have the primary\'s ages when its last pushes left no row to send (issue 17)', async () => {
    // A promotion moves each row's tick by the primary's clock of the newest batch. The empty
    // request of a step that touches no row of the primary ticks that clock and has no row to
    // send: the clock must go anyway, or the promoted rows come out a step young per such step.
    const { primary, buddy, store, ship } = replicated();
    for (let i = 0; i < 2; i++) pull(primary, [1, 2, 3]);
    // Both PS take every step (the buddy none of its rows here), so their clocks count alike.
    for (let step = 1; step <= 5; step++) {
      push(primary, step === 3 ? [1, 2, 3] : step < 3 ? [1] : []);
      push(buddy, []);
      ship();
    }
    await store.promote(3, new Uint8Array(NB).fill(1));
    expect(ages(primary).size).to.equal(3);
    expect(ages(buddy), 'ages and use counts').to.deep.equal(ages(primary));
  });
});
