/**
 * Issue #13: a job's table set comes from its spec alone (src/spec/job-tables.ts), so the chief,
 * the worker, the model export and serving name the same tables.
 */
import { expect } from 'chai';
import { DENSE_TABLE, denseTable, jobTables, linearTableOf } from '../../../src/spec/job-tables';
import { parseJobSpec } from '../../../src/spec/job-spec';

const SPEC = parseJobSpec(`
name: tables
data: { format: criteo }
features:
  numeric: []
  categorical:
    - { name: C1, table: users }
    - { name: C2, table: items }
  tables:
    - { name: users, dim: 8, optimizer: { kind: adagrad, lr: 0.05 } }
    - { name: items, dim: 8, optimizer: { kind: adam, lr: 0.001, beta1: 0 } }
model: { kind: deepfm, hidden: [8], dense_optimizer: { kind: adam, lr: 0.001 } }
`);

describe('job table set (issue #13)', () => {
  it('models reading embeddings and first-order weights get a dim-1 zero-initialised companion per table', () => {
    const tables = jobTables(SPEC, { emb: true, linear: true });
    expect(tables.map((t) => t.name)).to.deep.equal(['users', 'items', linearTableOf('users'), linearTableOf('items')]);
    const items = tables.find((t) => t.name === 'items.linear');
    expect(items).to.include({ kind: 'embedding', dim: 1 });
    expect(items?.initializer).to.deep.equal({ kind: 'zeros' });
    expect((items as { optimizer: unknown }).optimizer).to.deep.include({ kind: 'adam', beta1: 0 });
  });

  it('a model reading only embeddings, or only first-order weights (LR), has no companions', () => {
    expect(jobTables(SPEC, { emb: true, linear: false }).map((t) => t.name)).to.deep.equal(['users', 'items']);
    expect(jobTables(SPEC, { emb: false, linear: true }).map((t) => t.name)).to.deep.equal(['users', 'items']);
  });

  it('the dense table carries the spec dense optimizer and the model size', () => {
    expect(denseTable(SPEC, 123)).to.deep.include({ name: DENSE_TABLE, kind: 'dense', size: 123 });
    expect(denseTable(SPEC, 123).optimizer).to.deep.include({ kind: 'adam', lr: 0.001 });
  });
});
