import { expect } from 'chai';
import { planCapacity } from '../../../src/cli/plan';
import { EmbeddingTable } from '../../../src/ps/store/embedding-table';
import { bytesForRows, indexCapacityFor, indexSlotBytesFor, rowsForBytes } from '../../../src/ps/store/table-budget';
import { SLOT_META_BYTES_PER_ROW } from '../../../src/ps/store/slot-meta';

const COST = { rowBytes: 128, indexSlotBytes: 12, metaBytes: 5, slabRows: 1 << 16, fixedBytes: 0, extraSlots: 0 };

describe('table memory arithmetic (issue #6)', () => {
  it('indexCapacityFor matches the index a table grows to', () => {
    const t = new EmbeddingTable({ name: 't', dim: 1, optimizer: { kind: 'sgd', lr: 1 } });
    const ids = new Uint32Array(2 * 1000);
    for (let i = 0; i < 1000; i++) ids[2 * i] = i;
    t.pull(ids, new Float32Array(1000));
    expect(t.indexCapacity).to.equal(indexCapacityFor(1000));
  });

  it('bytesForRows is what a table of each weight format holds once its slabs are full', () => {
    for (const weightFormat of ['f32', 'f16'] as const) {
      const t = new EmbeddingTable({ name: 't', dim: 16, optimizer: { kind: 'adagrad', lr: 1 }, slabRows: 1024, weightFormat });
      const rows = 3 * 1024;
      const ids = new Uint32Array(2 * rows);
      for (let i = 0; i < rows; i++) ids[2 * i] = i;
      t.pull(ids, new Float32Array(rows * 16));
      const cost = {
        rowBytes: t.rowBytes, indexSlotBytes: indexSlotBytesFor(weightFormat), metaBytes: SLOT_META_BYTES_PER_ROW, slabRows: 1024,
        fixedBytes: 0, extraSlots: 0,
      };
      expect(t.memoryBytes()).to.equal(bytesForRows(rows, cost));
    }
    expect([indexSlotBytesFor('f32'), indexSlotBytesFor('f16')]).to.deep.equal([12, 8]);
  });

  it('rowsForBytes is the largest row count whose bytes fit', () => {
    for (const budget of [20e6, 1e9, 37e9]) {
      const rows = rowsForBytes(budget, COST);
      expect(bytesForRows(rows, COST)).to.be.at.most(budget);
      expect(bytesForRows(rows + 1, COST)).to.be.greaterThan(budget);
    }
  });

  it('plans 10^9 dim-16 Adagrad rows: 3 pods of 64 GiB, the fullest shard by the bucket map', () => {
    const p = planCapacity(1e9, { ...COST, metaBytes: 0 }, 64 * 2 ** 30, 2 * 2 ** 30);
    expect(p.psCount).to.equal(3);
    expect(p.rowsPerPs).to.equal(Math.ceil((1e9 * 1366) / 4096)); // ceil(4096 / 3) buckets
    expect(p.bytesPerPs).to.be.at.most(62 * 2 ** 30);
  });
});
