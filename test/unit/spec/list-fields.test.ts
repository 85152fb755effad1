/**
 * Issue 21: list-valued fields (`features.lists`, a user's click history) in the spec: defaults,
 * one clear error line per mistake, the canonical form, and what the feature transform makes of
 * a list cell (element ids through the one feature hash, padding masked, lengths).
 */
import { expect } from 'chai';
import { splitListCell } from '../../../src/data/list-cell';
import { hashFeature } from '../../../src/sharding/feature-hash';
import { jobSpecToYaml, parseJobSpec, specFingerprint } from '../../../src/spec/job-spec';
import { FORMAT_SCHEMAS } from '../../../src/spec/formats';
import { FeatureTransformer } from '../../../src/spec/transform';
import type { RawRow } from '../../../src/spec/transform';
import { baseSpec, expectSpecError, parseObject } from './fixtures';

/** baseSpec() as DIN: C26 is C1's history (attention from C1, in C1's table). */
function dinSpec(list: Record<string, unknown> = {}): Record<string, any> {
  const s = baseSpec();
  s.model = { kind: 'din', hidden: [8] };
  s.features.lists = [{ name: 'C26', separator: '|', max_len: 3, table: 'c1', pooling: 'attention', target: 'C1', ...list }];
  return s;
}

function edited(s: Record<string, any>, edit: (s: Record<string, any>) => void): Record<string, any> {
  edit(s);
  return s;
}

/** A criteo row with C1, C26 and label set. */
function row(c1: string | null, c26: string | null, label = 1): RawRow {
  const categorical: (string | null)[] = new Array(26).fill(null);
  categorical[0] = c1;
  categorical[25] = c26;
  return { label, numeric: new Array(13).fill(1), categorical };
}

function idAt(ids: Uint32Array, i: number): bigint {
  return (BigInt(ids[2 * i + 1]) << 32n) | BigInt(ids[2 * i]);
}

describe('spec: list fields (issue 21)', () => {
  it('parses with defaults: pooling sum, elements hashed as the list itself; with attention, as the target', () => {
    const sum = parseObject(edited(baseSpec(), (s) => { s.features.lists = [{ name: 'C26', separator: '|', max_len: 5, table: 'c1' }]; }));
    expect(sum.features.lists).to.deep.equal([{ name: 'C26', separator: '|', maxLen: 5, table: 'c1', pooling: 'sum', hashAs: 'C26' }]);
    const din = parseObject(dinSpec());
    expect(din.features.lists[0]).to.deep.include({ pooling: 'attention', target: 'C1', hashAs: 'C1' });
    expect(parseObject(dinSpec({ hash_as: 'C26' })).features.lists[0].hashAs).to.equal('C26');
  });

  it('round-trips through the canonical YAML; specs without lists keep their fingerprint', () => {
    const din = parseObject(dinSpec());
    expect(parseJobSpec(jobSpecToYaml(din))).to.deep.equal(din);
    const plain = parseObject(baseSpec());
    expect(jobSpecToYaml(plain)).to.not.contain('lists');
    expect(specFingerprint(parseObject(edited(baseSpec(), (s) => { s.features.lists = []; })))).to.equal(specFingerprint(plain));
  });

  it('each mistake is one error naming the key and the fix', () => {
    expectSpecError(dinSpec({ separator: undefined }), 'features.lists[0].separator', 'required (the string between the elements of a cell');
    expectSpecError(dinSpec({ separator: 'a\tb' }), 'features.lists[0].separator', 'must not contain the criteo field delimiter "\\t"');
    const avazu = edited(dinSpec(), (s) => {
      s.data.format = 'avazu';
      s.features.numeric = [];
      s.features.categorical = [{ name: 'C1', table: 'c1' }, { names: ['C14', 'C15'], table: 'shared' }];
      s.features.lists = [{ name: 'C16', separator: ',', max_len: 3, table: 'c1', pooling: 'attention', target: 'C1' }];
    });
    expectSpecError(avazu, 'features.lists[0].separator', 'must not contain the avazu field delimiter ","');
    expectSpecError(dinSpec({ max_len: 0 }), 'features.lists[0].max_len', 'must be >= 1 (got 0)');
    expectSpecError(dinSpec({ max_len: 5000 }), 'features.lists[0].max_len', 'must be <= 1024 (got 5000)');
    expectSpecError(dinSpec({ pooling: 'max' }), 'features.lists[0].pooling', 'unknown pooling "max" (expected one of sum, mean, attention)');
    expectSpecError(dinSpec({ target: undefined }), 'features.lists[0].target', 'required with pooling: attention');
    expectSpecError(dinSpec({ pooling: 'sum' }), 'features.lists[0].target', 'only used with pooling: attention (pooling is sum)');
    expectSpecError(dinSpec({ target: 'C2' }), 'features.lists[0].target', '"C2" uses table "shared" but this list uses "c1"; a target and its list must share one table');
    expectSpecError(dinSpec({ target: 'C9' }), 'features.lists[0].target', '"C9" is not a field of features.categorical (C1, C2, C3)');
    expectSpecError(dinSpec({ hash_as: 'C99' }), 'features.lists[0].hash_as', 'unknown categorical field "C99" for format criteo');
    expectSpecError(dinSpec({ name: 'C2' }), 'features.lists[0].name', 'field "C2" is listed twice');
    expectSpecError(dinSpec({ name: 'I2' }), 'features.lists[0].name', 'unknown list field "I2" for format criteo');
    expectSpecError(dinSpec({ table: 'nope' }), 'features.lists[0].table', 'unknown table "nope"');
    expectSpecError(dinSpec({ extra: 1 }), 'features.lists[0].extra', 'unknown key');
    expectSpecError(edited(dinSpec(), (s) => { s.model.kind = 'deepfm'; }), 'features.lists[0].pooling',
      'attention needs model din (model is deepfm); use sum or mean with deepfm');
    expectSpecError(edited(dinSpec(), (s) => { delete s.features.lists; }), 'features.lists',
      'model din needs at least one list field with pooling: attention');
  });

  it('the transform hashes each element as the hash_as field, keeps the last max_len, masks the padding and counts the lengths', () => {
    const spec = parseObject(dinSpec());
    const tf = new FeatureTransformer(spec, FORMAT_SCHEMAS.criteo);
    expect(tf.fieldsPerTable.c1).to.deep.equal(['C1', 'C26[0]', 'C26[1]', 'C26[2]']);
    expect(tf.lists).to.deep.equal([{ field: 'C26', table: 'c1', slot: 1, maxLen: 3, pooling: 'attention', targetSlot: 0 }]);
    const b = tf.transformBatch([row('x', 'a|b|c|d'), row('y', 'a||b|'), row('z', null), row('w', '')]);
    const ids = b.ids.c1;
    // Row 0 keeps the last three; C26's elements get C1's ids (hash_as: the target C1).
    expect([1, 2, 3].map((k) => idAt(ids, k))).to.deep.equal(['b', 'c', 'd'].map((v) => hashFeature('C1', v)));
    expect([5, 6].map((k) => idAt(ids, k))).to.deep.equal(['a', 'b'].map((v) => hashFeature('C1', v)));
    expect(idAt(ids, 7)).to.equal(0n);
    expect(Array.from(b.mask!.c1)).to.deep.equal([1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0]);
    expect(Array.from(b.listLengths!)).to.deep.equal([3, 2, 0, 0]);
    expect(b.mask!.shared, 'a table without lists gets no mask under missing_categorical: hash').to.equal(undefined);
  });

  it('splitListCell: empty pieces skipped, the last maxLen kept, a multi-character separator', () => {
    const out: string[] = [];
    expect(splitListCell('|a||b|', '|', 5, out)).to.equal(2);
    expect(out).to.deep.equal(['a', 'b']);
    expect(splitListCell('1::2::3', '::', 2, out)).to.equal(2);
    expect(out).to.deep.equal(['2', '3']);
    expect(splitListCell(null, '|', 2, out)).to.equal(0);
    expect(out).to.deep.equal([]);
  });
});
