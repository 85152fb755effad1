import { expect } from 'chai';
import { createTestCluster, TestCluster } from '../helpers/ps';

describe('PS admin: AssignDense, ExportTable and read-only pulls (real gRPC)', function () {
  this.timeout(20_000);
  let c: TestCluster;
  afterEach(async () => c?.tearDown());

  it('assigns a dense table once when only_if_fresh, and refuses a wrong size naming it', async () => {
    c = await createTestCluster(2);
    await c.client.admin.createTable({ name: 'mlp', kind: 'dense', size: 4, optimizer: { kind: 'sgd', lr: 1 }, initializer: { kind: 'zeros' } });
    expect(await c.client.admin.assignDense('mlp', new Float32Array([1, 2, 3, 4]))).to.equal(true);
    expect(await c.client.admin.assignDense('mlp', new Float32Array([9, 9, 9, 9]))).to.equal(false);
    expect(Array.from(await c.client.data.pullDense('mlp'))).to.deep.equal([1, 2, 3, 4]);
    const err = await c.client.admin.assignDense('mlp', new Float32Array(3), false).then(() => null, (e) => e);
    expect(err.code).to.equal('TESSERA_ERR_DIM_MISMATCH');
    expect(err.message).to.contain('size 4');
  });

  it('exports every row from every PS, and read-only pulls create no rows', async () => {
    c = await createTestCluster(2);
    await c.client.admin.createTable({ name: 'e', kind: 'embedding', dim: 3, optimizer: { kind: 'sgd', lr: 1 }, initializer: { kind: 'constant', value: 0.5 } });
    const ids = new Uint32Array(2000).map((_, i) => (i % 2 === 0 ? i + 1 : 0)); // 1000 ids
    await c.client.data.push('e', ids, new Float32Array(3000).fill(0.25));
    await c.client.data.flush();
    const seen = new Map<number, number[]>();
    for await (const chunk of c.client.admin.exportTable('e', 'embedding')) {
      for (let i = 0; i < chunk.ids.length / 2; i++) seen.set(chunk.ids[2 * i], Array.from(chunk.values.subarray(i * 3, i * 3 + 3)));
    }
    expect(seen.size).to.equal(1000);
    expect(seen.get(1)).to.deep.equal([0.25, 0.25, 0.25]);
    const fresh = new Uint32Array([77777, 0, 88888, 0]);
    expect(Array.from(await c.client.data.pull('e', fresh, 3, { readOnly: true }))).to.deep.equal([0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
    const rows = (await c.client.admin.stats()).reduce((n, s) => n + s.tables[0].rows, 0);
    expect(rows).to.equal(1000);
  });
});
