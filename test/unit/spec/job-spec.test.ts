import { expect } from 'chai';
import * as path from 'node:path';
import { ERROR_CODES } from '../../../src/common/errors';
import { normalizeTableSpec, sameSpec } from '../../../src/ps/store/table-spec';
import {
  embeddingTableSpecs, jobSpecToYaml, loadJobSpec, modelFingerprint, parseJobSpec, specFingerprint,
} from '../../../src/spec/job-spec';
import type { JobSpec } from '../../../src/spec/types';
import { baseSpec, parseObject } from './fixtures';

/** dist/test/unit/spec → repository root. */
const ROOT = path.resolve(__dirname, '../../../..');
const EXAMPLES = ['criteo-deepfm.yaml', 'synthetic-deepfm.yaml', 'avazu-deepfm.yaml'].map((f) => path.join(ROOT, 'examples', f));

/** A spec touching every optional feature: bucketize, dcn, drop, ftrl, normal init, data paths. */
const RICH = `
name: rich.spec-1
data: { format: criteo, train: "data/day_*.gz", eval: data/day_23.gz, max_error_rate: 0.05 }
features:
  numeric:
    - { names: [I1, I2], transform: log, missing: 0 }
    - { name: I3, transform: none, missing: -1.5 }
    - { name: I5, transform: bucketize, boundaries: [-1, 0, 2.5, 1000, 1e6], missing: 0, table: buckets }
  categorical:
    - { names: [C1, C2, C3], table: wide }
    - { name: C4, table: buckets }
  missing_categorical: drop
  table_defaults: { dim: 12, optimizer: { kind: ftrl, alpha: 0.05, l1: 1 } }
  tables:
    - { name: wide, initializer: { kind: normal, std: 0.001 }, seed: 9 }
    - { name: buckets, dim: 6, optimizer: { kind: adagrad, lr: 0.1, initial_accumulator: 0.5 } }
model: { kind: dcn, hidden: [256, 128, 64], cross_layers: 4, dense_optimizer: { kind: sgd, lr: 0.01 } }
training: { batch_size: 4096, epochs: 3, max_inflight_pushes: 4, dense_sync_every: 8, seed: 77 }
`;

const AVAZU = `
name: avazu-fm
data: { format: avazu }
features:
  categorical:
    - { names: [hour, C1, banner_pos, site_id, site_domain, app_id, device_ip, device_model, C14, C21], table: emb }
  tables: [{ name: emb, dim: 10, optimizer: { kind: adam, lr: 0.001 } }]
model: { kind: fm }
`;

function expectDeepFrozen(v: unknown, where = 'spec'): void {
  if (typeof v !== 'object' || v === null) return;
  expect(Object.isFrozen(v), where).to.equal(true);
  for (const [k, child] of Object.entries(v)) expectDeepFrozen(child, `${where}.${k}`);
}

describe('spec/job-spec', () => {
  it('fills every default', () => {
    const s = parseObject(baseSpec());
    expect(s.data).to.deep.equal({ format: 'criteo', train: null, eval: null, maxErrorRate: 0.01 });
    expect(s.training).to.deep.equal({ batchSize: 1024, epochs: 1, maxInflightPushes: 0, denseSyncEvery: 1, seed: 0, wireEncoding: 'f32', dataThread: false });
    expect(s.model).to.deep.equal({
      kind: 'deepfm', hidden: [8], crossLayers: 0, dropout: 0,
      denseOptimizer: { kind: 'adam', lr: 0.001, beta1: 0.9, beta2: 0.999, eps: 1e-8 },
    });
    expect(s.features.numeric).to.deep.equal([{ name: 'I1', transform: 'log', missing: 0 }]);
    expect(s.features.categorical).to.deep.equal([
      { name: 'C1', table: 'c1' }, { name: 'C2', table: 'shared' }, { name: 'C3', table: 'shared' },
    ]);
    expect(s.features.tables[0]).to.deep.equal({
      name: 'c1', dim: 4, optimizer: { kind: 'adagrad', lr: 0.05, initialAccumulator: 0.1, eps: 1e-10 },
      initializer: { kind: 'uniform', scale: 0.01 }, seed: 0,
    });
    expect(s.features.missingCategorical).to.equal('hash');
  });

  it('applies table_defaults and per-table overrides; table seeds default to training.seed', () => {
    const s = parseJobSpec(RICH);
    const [wide, buckets] = s.features.tables;
    expect(wide).to.deep.equal({
      name: 'wide', dim: 12, optimizer: { kind: 'ftrl', alpha: 0.05, beta: 0, l1: 1, l2: 0, initialAccumulator: 0.1 },
      initializer: { kind: 'normal', std: 0.001 }, seed: 9,
    });
    expect(buckets).to.deep.include({ dim: 6, seed: 77, initializer: { kind: 'uniform', scale: 0.01 } });
    expect(buckets.optimizer).to.deep.equal({ kind: 'adagrad', lr: 0.1, initialAccumulator: 0.5, eps: 1e-10 });
    expect(s.model).to.deep.include({ kind: 'dcn', hidden: [256, 128, 64], crossLayers: 4 });
    expect(s.features.numeric[3]).to.deep.equal({
      name: 'I5', transform: 'bucketize', missing: 0, boundaries: [-1, 0, 2.5, 1000, 1e6], table: 'buckets',
    });
  });

  it('returns a deeply frozen object', () => {
    const s = parseJobSpec(RICH);
    expectDeepFrozen(s);
    expect(() => { (s.training as { batchSize: number }).batchSize = 1; }).to.throw(TypeError);
  });

  it('round-trips parse → jobSpecToYaml → parse to an identical spec', () => {
    const specs: JobSpec[] = [parseObject(baseSpec()), parseJobSpec(RICH), parseJobSpec(AVAZU), ...EXAMPLES.map(loadJobSpec)];
    for (const s of specs) {
      const yaml = jobSpecToYaml(s);
      const again = parseJobSpec(yaml, `${s.name} canonical`);
      expect(again, s.name).to.deep.equal(s);
      expect(jobSpecToYaml(again), s.name).to.equal(yaml); // canonical is a fixed point
      expect(yaml).to.contain(`# fingerprint: ${specFingerprint(s)}`);
    }
  });

  it('reads training.wire_encoding, keeps it through the canonical YAML, and writes it only when f16 (issue 18)', () => {
    const f16 = baseSpec();
    f16.training = { wire_encoding: 'f16' };
    const s = parseObject(f16);
    expect(s.training.wireEncoding).to.equal('f16');
    const yaml = jobSpecToYaml(s);
    expect(yaml).to.match(/wire_encoding: f16/);
    expect(parseJobSpec(yaml).training.wireEncoding).to.equal('f16');
    expect(specFingerprint(s)).to.not.equal(specFingerprint(parseObject(baseSpec())));
    // The default is not written, so specs that never named it keep their fingerprints.
    expect(jobSpecToYaml(parseObject(baseSpec()))).to.not.contain('wire_encoding');
  });

  it('reads training.data_thread, keeps it through the canonical YAML, refuses a non-boolean (issue 18)', () => {
    const on = baseSpec();
    on.training = { data_thread: true };
    const s = parseObject(on);
    expect(s.training.dataThread).to.equal(true);
    expect(parseJobSpec(jobSpecToYaml(s)).training.dataThread).to.equal(true);
    expect(jobSpecToYaml(parseObject(baseSpec()))).to.not.contain('data_thread');
    const bad = baseSpec();
    bad.training = { data_thread: 'yes' };
    expect(() => parseObject(bad)).to.throw(/training\.data_thread.*expected true or false, got "yes"/);
  });

  it('writes the canonical YAML one field and one table per line', () => {
    const yaml = jobSpecToYaml(parseJobSpec(RICH));
    expect(yaml).to.contain('    - { name: I5, transform: bucketize, missing: 0, boundaries: [ -1, 0, 2.5, 1000, 1000000 ], '
      + 'table: buckets }\n');
    expect(yaml).to.contain('    - { name: C2, table: wide }\n');
    expect(yaml).to.contain('initial_accumulator: 0.5');
    expect(yaml).not.to.contain('initialAccumulator');
    expect(yaml).not.to.contain('table_defaults');
  });

  it('fingerprints are stable, ignore sugar and key order, and see a dim change', () => {
    const a = parseObject(baseSpec());
    expect(specFingerprint(a)).to.match(/^[0-9a-f]{16}$/);
    expect(specFingerprint(parseObject(baseSpec()))).to.equal(specFingerprint(a));
    // Same spec written differently: names expanded, keys reordered, defaults explicit.
    const b = baseSpec();
    b.features.categorical = [{ table: 'c1', name: 'C1' }, { name: 'C2', table: 'shared' }, { name: 'C3', table: 'shared' }];
    b.training = { seed: 0, batch_size: 1024 };
    const reordered = { training: b.training, model: b.model, features: b.features, data: b.data, name: b.name };
    expect(specFingerprint(parseObject(reordered))).to.equal(specFingerprint(a));
    const dim = baseSpec();
    dim.features.tables[0].dim = 8;
    dim.features.tables[1].dim = 8;
    expect(specFingerprint(parseObject(dim))).to.not.equal(specFingerprint(a));
    expect(modelFingerprint(parseObject(dim))).to.not.equal(modelFingerprint(a));
    const order = baseSpec();
    order.features.categorical.reverse(); // field order is input layout
    expect(specFingerprint(parseObject(order))).to.not.equal(specFingerprint(a));
  });

  it('modelFingerprint ignores name, data paths and training, but not table seeds', () => {
    const a = parseObject(baseSpec());
    const b = baseSpec();
    b.name = 'other';
    b.data.train = 'x/*.gz';
    b.training = { batch_size: 7, epochs: 5 };
    expect(specFingerprint(parseObject(b))).to.not.equal(specFingerprint(a));
    expect(modelFingerprint(parseObject(b))).to.equal(modelFingerprint(a));
    const c = baseSpec();
    c.training = { seed: 5 }; // becomes every table's seed
    expect(modelFingerprint(parseObject(c))).to.not.equal(modelFingerprint(a));
  });

  it('embeddingTableSpecs are valid PS table specs', () => {
    for (const t of embeddingTableSpecs(parseJobSpec(RICH))) {
      const n = normalizeTableSpec(t);
      expect(sameSpec(n, t), t.name).to.equal(true);
    }
  });

  it('loadJobSpec prefixes errors with the file name and reports unreadable files', () => {
    expect(() => loadJobSpec(path.join(ROOT, 'examples', 'missing.yaml')))
      .to.throw('cannot read job spec').with.property('code', ERROR_CODES.CONFIG);
  });

  describe('examples/', () => {
    it('criteo-deepfm.yaml: 13 log numeric, 26 own tables of dim 16 with Adagrad 0.1 (issue 21 search, ADR 0025 amendment), DeepFM [400, 400]', () => {
      const s = loadJobSpec(EXAMPLES[0]);
      expect(s.data.format).to.equal('criteo');
      expect(s.features.numeric.map((f) => `${f.name}:${f.transform}`))
        .to.deep.equal(Array.from({ length: 13 }, (_, i) => `I${i + 1}:log`));
      expect(s.features.categorical.map((f) => f.name)).to.deep.equal(Array.from({ length: 26 }, (_, i) => `C${i + 1}`));
      expect(s.features.tables).to.have.length(26);
      for (const t of s.features.tables) {
        expect(t.dim).to.equal(16);
        expect(t.optimizer).to.include({ kind: 'adagrad', lr: 0.1 });
      }
      expect(s.model).to.deep.include({ kind: 'deepfm', hidden: [400, 400] });
      expect(s.training.batchSize).to.equal(256); // the 8,000-row sample trains best with small batches
    });

    it('synthetic-deepfm.yaml: criteo format, all 13 + 26 fields', () => {
      const s = loadJobSpec(EXAMPLES[1]);
      expect(s.data.format).to.equal('criteo');
      expect(s.features.numeric).to.have.length(13);
      expect(s.features.categorical).to.have.length(26);
      expect(s.model.kind).to.equal('deepfm');
    });

    it('avazu-deepfm.yaml: avazu format, every categorical column but the raw hour, one table each', () => {
      const s = loadJobSpec(EXAMPLES[2]);
      expect(s.data.format).to.equal('avazu');
      expect(s.features.numeric).to.have.length(0);
      const names = s.features.categorical.map((f) => f.name);
      expect(names).to.have.length(22);
      expect(names).to.include('hour_of_day').and.not.include('hour');
      expect(s.features.tables).to.have.length(22);
      expect(s.model.kind).to.equal('deepfm');
    });
  });
});
