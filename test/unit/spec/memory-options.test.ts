import { expect } from 'chai';
import { embeddingTableSpecs, jobSpecToYaml, parseJobSpec, specFingerprint } from '../../../src/spec/job-spec';
import { baseSpec, expectSpecError, parseObject } from './fixtures';

/** baseSpec with `extra` merged into table c1. */
function withC1(extra: Record<string, unknown>): Record<string, any> {
  const s = baseSpec();
  Object.assign(s.features.tables[0], extra);
  return s;
}

describe('job spec: table weight_format, admission and eviction (issue #6)', () => {
  it('parses them, fills defaults, and hands them to the PS table specs', () => {
    const spec = parseObject(withC1({
      weight_format: 'f16',
      admission: { min_count: 3, unadmitted: 'unknown' },
      eviction: { ttl_steps: 1000, max_rows: 1 << 20 },
    }));
    const [c1, shared] = embeddingTableSpecs(spec);
    expect(c1).to.deep.include({
      weightFormat: 'f16',
      admission: { minCount: 3, sketchWidth: 1 << 20, sketchDepth: 4, unadmitted: 'unknown' },
      eviction: { policy: 'lfu', ttlSteps: 1000, maxRows: 1 << 20 },
    });
    expect(shared).to.not.have.any.keys('weightFormat', 'admission', 'eviction');
  });

  it('table_defaults carries them to every table; canonical YAML round-trips', () => {
    const s = baseSpec();
    s.features.table_defaults = { weight_format: 'f16', eviction: { max_bytes: 1e9 } };
    const spec = parseObject(s);
    expect(spec.features.tables.map((t) => t.weightFormat)).to.deep.equal(['f16', 'f16']);
    const again = parseJobSpec(jobSpecToYaml(spec));
    expect(specFingerprint(again)).to.equal(specFingerprint(spec));
    expect(again.features.tables[1].eviction).to.deep.equal({ policy: 'lfu', maxBytes: 1e9 });
  });

  it('leaves the fingerprint of a spec without them unchanged', () => {
    const spec = parseObject(baseSpec());
    expect(jobSpecToYaml(spec)).to.not.match(/weight_format|admission|eviction/);
  });

  const bad: Array<[string, Record<string, unknown>, string, string]> = [
    ['weight format', { weight_format: 'bf8' }, 'weight_format', 'must be one of f32, f16'],
    ['threshold 0', { admission: { min_count: 0 } }, 'admission.min_count', 'must be >= 1'],
    ['missing threshold', { admission: { unadmitted: 'zeros' } }, 'admission.min_count', 'must be a finite number'],
    ['camelCase key', { admission: { minCount: 2 } }, 'admission.minCount', 'unknown key (did you mean min_count?)'],
    ['unknown policy', { eviction: { policy: 'fifo', max_rows: 1 << 20 } }, 'eviction.policy', 'must be one of lfu'],
    ['negative budget', { eviction: { max_bytes: -1 } }, 'eviction.max_bytes', 'must be >= 1'],
    ['budget below a slab', { eviction: { max_rows: 100 } }, 'eviction.max_rows', 'must be at least one slab (65536 rows)'],
    ['two budgets', { eviction: { max_rows: 1 << 20, max_bytes: 1e9 } }, 'eviction.max_bytes', 'cannot be combined with max_rows'],
    ['unknown key', { eviction: { ttl: 5 } }, 'eviction.ttl', 'unknown key'],
  ];
  for (const [what, extra, key, detail] of bad) {
    it(`refuses ${what}, naming features.tables[0].${key}`, () => {
      expectSpecError(withC1(extra), `features.tables[0].${key}`, detail);
    });
  }
});
