/**
 * Issue 21: how a job with a list field (a click history) meets its model: the list's field
 * offsets and target in the model config, the reads that skip absent slots (a padded slot never
 * asks the PS for a row), the lengths the model gets, and pushes only for present elements.
 */
import { expect } from 'chai';
import { buildModelParts } from '../../../src/infer/model-parts';
import { orderedLengths, planLists } from '../../../src/infer/batch-assembler';
import { parseJobSpec } from '../../../src/spec/job-spec';
import type { RawRow } from '../../../src/spec/transform';
import type { IdArray } from '../../../src/wire/key-block';

const SPEC = parseJobSpec(`name: lists
data: { format: criteo }
features:
  numeric: [{ name: I1 }]
  categorical:
    - { name: C2, table: ctx }
    - { name: C1, table: items }
  lists:
    - { name: C26, separator: '|', max_len: 3, table: items, pooling: attention, target: C1 }
    - { name: C25, separator: ';', max_len: 2, table: ctx, pooling: mean }
  table_defaults: { dim: 2, optimizer: { kind: sgd, lr: 0.1 } }
  tables: [{ name: items }, { name: ctx }]
model: { kind: din, hidden: [4] }
`);

function row(c26: string, c25: string): RawRow {
  const categorical: (string | null)[] = new Array(26).fill('v');
  categorical[25] = c26;
  categorical[24] = c25;
  return { label: 1, numeric: new Array(13).fill(1), categorical };
}

describe('feature layout with list fields (issue 21)', () => {
  it('gives the model each list\'s field offset, length, pooling and target, by offset', () => {
    const { model, layout } = buildModelParts(SPEC);
    // items: C1, C26[0..2] (fields 0..3); ctx: C2, C25[0..1] (fields 4..6)
    expect(model.config.numFields).to.equal(7);
    expect(model.config.lists).to.deep.equal([
      { offset: 1, length: 3, pooling: 'attention', target: 0 },
      { offset: 5, length: 2, pooling: 'mean' },
    ]);
    expect(layout.lists).to.deep.equal(model.config.lists);
  });

  it('reads only present slots, hands the model zeros there and the lengths, and pushes present elements only', async () => {
    const { transformer, layout } = buildModelParts(SPEC);
    const tb = transformer.transformBatch([row('a|b', 'x;y;z'), row('', 'w')]);
    const asked: Record<string, number> = {};
    const read = (table: string, ids: IdArray, dim: number): Float32Array => {
      asked[table] = ids.length / 2;
      return new Float32Array((ids.length / 2) * dim).fill(1);
    };
    const pulled = await layout.read(tb, read);
    // items: 2 rows × (C1 + 3 slots), of which C1 ×2 and a, b are present; ctx: C2 ×2 + y, z + w
    expect(asked).to.deep.equal({ items: 4, ctx: 5 });
    const inputs = layout.inputs(tb, pulled);
    const fieldOnes = (b: number) => Array.from({ length: 7 }, (_, f) => inputs.emb[(b * 7 + f) * 2]);
    expect(fieldOnes(0)).to.deep.equal([1, 1, 1, 0, 1, 1, 1]);
    expect(fieldOnes(1)).to.deep.equal([1, 0, 0, 0, 1, 1, 0]);
    expect(Array.from(inputs.listLengths!)).to.deep.equal([2, 2, 0, 1]);
    const grads = layout.gradients(tb, new Float32Array(2 * 7 * 2).fill(0.5), new Float32Array(0));
    expect(grads.map((g) => [g.table, g.ids.length / 2])).to.deep.equal([['items', 4], ['ctx', 5]]);
  });

  it('orders the lengths of lists the spec lists out of field order', () => {
    const plan = planLists([{ name: 'a', fields: 3, fieldOffset: 0 }, { name: 'b', fields: 2, fieldOffset: 3 }], [
      { field: 'L1', table: 'b', slot: 0, maxLen: 2, pooling: 'sum' },
      { field: 'L2', table: 'a', slot: 1, maxLen: 2, pooling: 'sum' },
    ]);
    expect(plan.inputs.map((l) => l.offset)).to.deep.equal([1, 3]);
    expect(plan.order).to.deep.equal([1, 0]);
    expect(Array.from(orderedLengths(Float32Array.from([2, 1, 0, 2]), plan.order, 2))).to.deep.equal([1, 2, 2, 0]);
  });
});
