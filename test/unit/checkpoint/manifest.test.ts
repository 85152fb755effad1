/**
 * Issue 13: the manifest's own table record (format 2), and format-1 tables (the gRPC shape of
 * before) read as the same record.
 */
import { expect } from 'chai';
import { ManifestTable, validateManifest } from '../../../src/checkpoint/manifest';
import { tableLayoutOf, tableSpecOfLayout } from '../../../src/ps/table-layout';
import type { TableSpec } from '../../../src/ps/store/table-spec';
import { normalizeTableSpec } from '../../../src/ps/store/table-spec';

function manifest(format: number, tables: unknown[]): Record<string, unknown> {
  return { format, id: 'ckpt-00000001-20260101T000000Z', kind: 'full', base: null, createdAt: '', numBuckets: 16, shardMapVersion: 1, tables, files: [], job: null };
}

describe('checkpoint manifest tables (issue 13)', () => {
  it('records a table spec with every default filled in and reads it back as the same table', () => {
    const spec: TableSpec = {
      name: 'emb', kind: 'embedding', dim: 8, optimizer: { kind: 'adagrad', lr: 0.05, initialAccumulator: 0 },
      admission: { minCount: 2 }, eviction: { maxRows: 70000, spill: false },
    };
    const t = tableLayoutOf(spec);
    expect(t).to.deep.equal({
      name: 'emb', kind: 'embedding', dim: 8, seed: 0, weightFormat: 'f32',
      optimizer: { kind: 'adagrad', params: { lr: 0.05, initial_accumulator: 0, eps: 1e-10 } },
      initializer: { kind: 'uniform', scale: 0.01 },
      admission: { minCount: 2, sketchWidth: 1 << 20, sketchDepth: 4, unadmitted: 'zeros' },
      eviction: { policy: 'lfu', maxRows: 70000 },
    });
    expect(validateManifest(JSON.parse(JSON.stringify(manifest(2, [t]))), 'm.json').tables).to.deep.equal([t]);
    expect(normalizeTableSpec(tableSpecOfLayout(t))).to.deep.equal(normalizeTableSpec(spec));
  });

  it('reads a format-1 table: optimizer numbers as they were, zeros in memory options as unset', () => {
    const old = {
      name: 'd', kind: 'DENSE', dim: 0, size: 5, seed: 3, weightFormat: '', admission: null, eviction: null,
      optimizer: { kind: 'adam', adam: { lr: 0.001, beta1: 0, beta2: 0.999, eps: 1e-8 } },
      initializer: { kind: 'CONSTANT', value: 0, scale: 0, std: 0 },
    };
    const emb = {
      ...old, name: 'e', kind: 'EMBEDDING', dim: 4, size: 0, weightFormat: 'f16',
      optimizer: { kind: 'ftrl', ftrl: { alpha: 0.1, beta: 0, l1: 0, l2: 0.5 } },
      initializer: { kind: 'ZEROS', value: 0, scale: 0, std: 0 },
      eviction: { policy: 'lfu', ttlSteps: 0, ttlSeconds: 30, maxRows: 0, maxBytes: 0, spill: false },
    };
    const [d, e] = validateManifest(manifest(1, [old, emb]), 'm.json').tables as ManifestTable[];
    expect(d).to.deep.equal({
      name: 'd', kind: 'dense', size: 5, seed: 3, initializer: { kind: 'constant', value: 0 },
      optimizer: { kind: 'adam', params: { lr: 0.001, beta1: 0, beta2: 0.999, eps: 1e-8 } },
    });
    expect(e).to.deep.equal({
      name: 'e', kind: 'embedding', dim: 4, seed: 3, weightFormat: 'f16', initializer: { kind: 'zeros' },
      optimizer: { kind: 'ftrl', params: { alpha: 0.1, beta: 0, l1: 0, l2: 0.5 } },
      eviction: { policy: 'lfu', ttlSeconds: 30 },
    });
  });

  it('refuses an unknown format and a table without {kind, params}, naming the file and field', () => {
    expect(() => validateManifest(manifest(3, []), 'm.json')).to.throw('m.json: format: expected 1 or 2, got 3')
      .with.property('code', 'TESSERA_ERR_CHECKPOINT_CORRUPT');
    const t = { name: 'x', kind: 'embedding', dim: 4, optimizer: { kind: 'sgd' }, initializer: { kind: 'zeros' }, seed: 0 };
    expect(() => validateManifest(manifest(2, [t]), 'm.json')).to.throw('m.json: tables[0].optimizer: must be {kind, params}');
    expect(() => validateManifest(manifest(1, [{ name: 'x', kind: 'EMBEDDING', optimizer: { kind: 'sgd' } }]), 'm.json'))
      .to.throw('m.json: tables[0]: optimizer: expected a format-1 oneof');
  });

  it('refuses an id or a base that is not a checkpoint id, so no manifest leads out of its root (issue 23)', () => {
    expect(() => validateManifest({ ...manifest(2, []), id: '..' }, 'm.json')).to.throw('m.json: id: ".." is not a checkpoint id')
      .with.property('code', 'TESSERA_ERR_CHECKPOINT_CORRUPT');
    expect(() => validateManifest({ ...manifest(2, []), kind: 'incremental', base: '../../etc' }, 'm.json')).to.throw('m.json: base:');
  });
});
