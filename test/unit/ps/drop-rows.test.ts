/**
 * Issue 17 (section 4, the 10M-row bench:reshard that failed with "Connection dropped"): a PS
 * dropping the rows of buckets it gave away did it in one synchronous step, 10 s and more for a
 * third of a 5M-row table here, so no request and no keepalive ping was answered meanwhile. The
 * drop now goes in slices: requests to the buckets the PS keeps are served between them, and
 * every row of the moved buckets still goes, even when the index grows and shifts meanwhile.
 */
import { expect } from 'chai';
import { silentLogger } from '../../../src/common/logger';
import { PsNode } from '../../../src/ps/ps-node';
import { dropBucketRows } from '../../../src/ps/migration/drop-rows';
import { TableStore } from '../../../src/ps/store/table-store';
import { bucketOf } from '../../../src/sharding/buckets';

const B = 64;

function ids(from: number, n: number): Uint32Array {
  return Uint32Array.from({ length: 2 * n }, (_, i) => (i % 2 === 0 ? Math.imul(from + (i >>> 1), 2654435761) >>> 0 : (from + (i >>> 1)) >>> 7));
}

/** The ids of `all` whose bucket `keep` says. */
function select(all: Uint32Array, keep: (b: number) => boolean): Uint32Array {
  const out: number[] = [];
  for (let k = 0; k < all.length; k += 2) if (keep(bucketOf(all[k], all[k + 1], B))) out.push(all[k], all[k + 1]);
  return Uint32Array.from(out);
}

describe('dropping moved rows in slices (regression, issue 17: "Connection dropped" at 10M rows)', () => {
  it('serves the kept buckets between slices, and removes every row of the moved ones while rows are added', async () => {
    const node = new PsNode({ config: { maxRequestBytes: 1 << 24 }, logger: silentLogger(), store: new TableStore({ slabRows: 64 }) });
    node.createTable({ name: 'emb', kind: 'embedding', dim: 2, optimizer: { kind: 'sgd', lr: 0.1 }, seed: 1 });
    const t = node.store.getEmbedding('emb');
    const first = ids(0, 26_000); // the index at 32,768 slots, just under its 0.8 load (26,214 ids)
    t.pull(first, new Float32Array(first.length));
    const moved = new Uint8Array(B).map((_, b) => (b % 3 === 0 ? 1 : 0));
    node.setShardMap(2, B, [...Array(B).keys()].filter((b) => moved[b] === 0)); // the new map: the moved buckets are gone
    const kept = select(first, (b) => moved[b] === 0);

    // While the drop runs, the PS takes new rows of the buckets it keeps: enough to grow the index.
    let sliceTurns = 0;
    let added = 0;
    let dropping = true;
    const serve = (async () => {
      for (let k = 0; dropping; k++) {
        await new Promise((r) => setImmediate(r));
        const more = select(ids(100_000 + 500 * k, 500), (b) => moved[b] === 0);
        t.pull(more, new Float32Array(more.length));
        added += more.length / 2;
        sliceTurns++;
      }
    })();
    const capacity = t.indexCapacity;
    const removed = await dropBucketRows(node, moved, 1024);
    dropping = false;
    await serve;

    expect(sliceTurns).to.be.greaterThan(5); // served between slices, not after the whole drop
    expect(t.indexCapacity).to.be.greaterThan(capacity); // the index grew (rehashed) mid-drop
    expect(removed).to.equal(26_000 - kept.length / 2);
    let left = 0;
    t.forEachRow((lo, hi) => { if (moved[bucketOf(lo, hi, B)] === 1) left++; });
    expect(left).to.equal(0);
    expect(t.size).to.equal(kept.length / 2 + added);
    for (let k = 0; k < kept.length; k += 2) expect(t.has(kept[k], kept[k + 1])).to.equal(true);
  });
});
