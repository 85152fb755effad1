/**
 * Issue 18 §3: the model's inputs of a job whose one table holds every field are the rows the
 * batch read, not a copy of them (1.7 MB a DeepFM step at batch 1,024 neither allocated nor
 * copied); jobs with several tables or dropped fields still get a gathered buffer of their own.
 */
import { expect } from 'chai';
import { buildModelParts } from '../../../src/infer/model-parts';
import { parseJobSpec } from '../../../src/spec/job-spec';
import type { RawRow } from '../../../src/spec/transform';
import type { IdArray } from '../../../src/wire/key-block';

function spec(tables: 'one' | 'two'): ReturnType<typeof parseJobSpec> {
  return parseJobSpec(`name: inputs
data: { format: criteo }
features:
  numeric: [{ name: I1 }]
  categorical:
    - { name: C1, table: a }
    - { name: C2, table: ${tables === 'one' ? 'a' : 'b'} }
  table_defaults: { dim: 2, optimizer: { kind: sgd, lr: 0.1 } }
  tables: [{ name: a }${tables === 'one' ? '' : ', { name: b }'}]
model: { kind: deepfm, hidden: [4] }
`);
}

function row(c1: string | null, c2: string | null): RawRow {
  const categorical: (string | null)[] = new Array(26).fill('v');
  categorical[0] = c1;
  categorical[1] = c2;
  return { label: 1, numeric: new Array(13).fill(1), categorical };
}

/** Rows whose values say where they came from: table index × 100 + position. */
function reader(tables: string[]) {
  return (table: string, ids: IdArray, dim: number): Float32Array => {
    const t = tables.indexOf(table.replace(/\.linear$/, ''));
    return Float32Array.from({ length: (ids.length / 2) * dim }, (_, i) => t * 100 + i + (table.endsWith('.linear') ? 0.5 : 0));
  };
}

describe('FeatureLayout.inputs (issue 18)', () => {
  it('hands one table\'s rows, holding every field, to the model as they are', async () => {
    const { transformer, layout } = buildModelParts(spec('one'));
    const tb = transformer.transformBatch([row('x', 'y'), row('z', 'w')]);
    const pulled = await layout.read(tb, reader(['a']));
    const inputs = layout.inputs(tb, pulled);
    expect(inputs.emb).to.equal(pulled.emb[0]);
    expect(inputs.linear).to.equal(pulled.linear[0]);
    expect(Array.from(inputs.emb)).to.deep.equal(Array.from({ length: 8 }, (_, i) => i));
  });

  it('gathers several tables into a buffer of its own, field by field', async () => {
    const { transformer, layout } = buildModelParts(spec('two'));
    const tb = transformer.transformBatch([row('x', 'y'), row('z', 'w')]);
    const pulled = await layout.read(tb, reader(['a', 'b']));
    const inputs = layout.inputs(tb, pulled);
    expect(inputs.emb).to.not.equal(pulled.emb[0]);
    // row 0: a's row 0, b's row 0; row 1: a's row 1, b's row 1 (dim 2)
    expect(Array.from(inputs.emb)).to.deep.equal([0, 1, 100, 101, 2, 3, 102, 103]);
    expect(Array.from(inputs.linear)).to.deep.equal([0.5, 100.5, 1.5, 101.5]);
  });

  it('copies, with zeros for dropped fields, when a field is missing and dropped', async () => {
    const dropSpec = parseJobSpec(`name: inputs
data: { format: criteo }
features:
  numeric: [{ name: I1 }]
  categorical: [{ name: C1, table: a }, { name: C2, table: a }]
  missing_categorical: drop
  table_defaults: { dim: 2, optimizer: { kind: sgd, lr: 0.1 } }
  tables: [{ name: a }]
model: { kind: deepfm, hidden: [4] }
`);
    const drop = buildModelParts(dropSpec);
    const tb = drop.transformer.transformBatch([row('x', null), row('z', 'w')]);
    const pulled = await drop.layout.read(tb, reader(['a']));
    const inputs = drop.layout.inputs(tb, pulled);
    expect(inputs.emb).to.not.equal(pulled.emb[0]);
    // present slots x, z, w read rows 0..2 (dim 2); the dropped C2 of row 0 is zeros
    expect(Array.from(inputs.emb)).to.deep.equal([0, 1, 0, 0, 2, 3, 4, 5]);
  });
});
