/**
 * Issue 17, the bit-exact reshard job with admission: a worker's counting pull issued before a
 * push is applied before it, even when a migration's fence refuses the pull and it is retried.
 * The trainer prefetches the next step's pulls before the current step's push; a fence that
 * refused such a pull let the push land first, so the target counted admission sightings and
 * touched rows in another order than a run that never resharded. Real PS on port 0, real client.
 */
import { expect } from 'chai';
import type { TableSpec } from '../../src/ps/store/table-spec';
import { bucketOf } from '../../src/sharding/buckets';
import { ckptCluster, CkptCluster, idRange } from '../helpers/checkpoint';
import { until } from '../helpers/until';

const TABLE: TableSpec = { name: 'emb', kind: 'embedding', dim: 4, optimizer: { kind: 'sgd', lr: 0.1 }, seed: 1, admission: { minCount: 2 } };

describe('pushes wait for the counting pulls issued before them (issue 17)', function () {
  this.timeout(30_000);
  let cluster: CkptCluster;

  beforeEach(async () => {
    cluster = await ckptCluster(1, [TABLE]);
  });

  afterEach(async () => {
    await cluster.tearDown();
  });

  it('a push issued while an earlier counting pull is refused by a fence is applied only after that pull', async () => {
    const { client, map } = cluster;
    const node = cluster.servers[0].node;
    const ids = idRange(0, 64);
    const bucket = (k: number) => bucketOf(ids[2 * k], ids[2 * k + 1], map.numBuckets);
    const other = [...Array(64).keys()].find((k) => bucket(k) !== bucket(0))!;
    const pulled = ids.slice(0, 2);
    const pushed = ids.slice(2 * other, 2 * other + 2);
    await client.data.pull('emb', pushed, 4);
    await client.data.pull('emb', pushed, 4); // admitted: the push below updates a row

    const fence = new Uint8Array(map.numBuckets);
    fence[bucket(0)] = 1;
    node.fenceBuckets(fence, 'test fence');
    const rejected = node.counters.rejected;
    const pull = client.data.pull('emb', pulled, 4);
    const push = client.data.pushStep([{ table: 'emb', ids: pushed, grads: new Float32Array(4).fill(1) }]);
    await until(() => node.counters.rejected >= rejected + 2, 'the fenced pull to be refused twice');
    expect(node.counters.pushes, 'pushes applied while the earlier pull was refused').to.equal(0);

    node.fenceBuckets(null);
    await Promise.all([pull, push]);
    expect(node.counters.pushes).to.equal(1);
    expect(node.store.getEmbedding('emb').size, 'rows: the pushed id only (the fenced id was seen once)').to.equal(1);
  });
});
