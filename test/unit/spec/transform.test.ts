import { expect } from 'chai';
import * as path from 'node:path';
import { ERROR_CODES } from '../../../src/common/errors';
import { FIELD_SALT_SEED, hashFeature } from '../../../src/sharding/feature-hash';
import { AVAZU_SCHEMA, CRITEO_SCHEMA } from '../../../src/spec/formats';
import { loadJobSpec, parseJobSpec } from '../../../src/spec/job-spec';
import { FeatureTransformer, RawRow, bucketIndex } from '../../../src/spec/transform';
import { idAt } from '../../../src/wire/key-block';
import { refXxh64 } from '../sharding/xxh64-reference';
import { CRITEO_GOLDEN_LINE, criteoRow } from './fixtures';

const ROOT = path.resolve(__dirname, '../../../..');
const hex = (v: bigint): string => v.toString(16).padStart(16, '0');

/**
 * GOLDEN: CRITEO_GOLDEN_LINE through examples/criteo-deepfm.yaml (log1p(max(x, 0)), missing 0).
 * Float32 values of log1p(1, 1, 5, 0, 1382, 4, 15, 2, 181, 1, 2, <empty → 0>, 2). Never change.
 */
const GOLDEN_DENSE = [
  0.6931471824645996, 0.6931471824645996, 1.7917594909667969, 0, 7.232010364532471, 1.6094379425048828,
  2.7725887298583984, 1.0986123085021973, 5.204006671905518, 0.6931471824645996, 1.0986123085021973, 0,
  1.0986123085021973,
];

/**
 * GOLDEN: the u64 id (hex) of C1..C26 of CRITEO_GOLDEN_LINE, table cK holding field CK. C22 is
 * empty, so it is the id of "" in field C22. These key stored embedding rows: they must never change.
 */
const GOLDEN_IDS = [
  '34268e6166de5fe4', 'fc8e835cc5e3f27e', 'ddf3bc186ffc8b4b', '81b43f680ad9388c', '723acdcb6d4ef1e4',
  '4302cbf7fe750e34', 'b9a0f93dd0f19543', '34b1232473ceb1f2', '46ddedeacad2d581', '87c9193477fca0fb',
  '98f49fcd67adbe8a', '289674a05d1c0181', 'edb8ef6edc1814a1', '8dbe9814817a374b', '5045872bd3f3fa08',
  '5da8a7839db8decd', '4c10acf918b4c02b', '4aa80f58eabfd42f', '17d8b47fedee553a', 'f95a1e96105e8df6',
  '2b6c6d7c933a056d', '8c88c0865847a437', 'a038a3222a5dd5e7', '6daf61242c583d4a', '4b469ffeb84bb9ca',
  '02da04898d4715e9',
];

/** The id definition spelled with the BigInt reference XXH64. */
function refId(field: string, raw: string): string {
  return hex(refXxh64(Buffer.from(raw, 'utf8'), refXxh64(Buffer.from(field, 'utf8'), BigInt(FIELD_SALT_SEED))));
}

/** A criteo spec with the given features section (YAML flow text) and model widedeep. */
function criteoSpec(features: string): ReturnType<typeof parseJobSpec> {
  return parseJobSpec(`name: t\ndata: { format: criteo }\nmodel: { kind: widedeep }\nfeatures:\n${features}`);
}

const TABLE = (name: string, dim = 4) => `{ name: ${name}, dim: ${dim}, optimizer: { kind: sgd, lr: 1 } }`;

function row(numeric: (number | null)[], categorical: (string | null)[], label = 1): RawRow {
  const n: (number | null)[] = new Array(13).fill(null);
  numeric.forEach((v, i) => { n[i] = v; });
  const c: (string | null)[] = new Array(26).fill(null);
  categorical.forEach((v, i) => { c[i] = v; });
  return { label, numeric: n, categorical: c };
}

describe('spec/transform', () => {
  it('GOLDEN: the fixed Criteo line through examples/criteo-deepfm.yaml', () => {
    const spec = loadJobSpec(path.join(ROOT, 'examples', 'criteo-deepfm.yaml'));
    const tf = new FeatureTransformer(spec, CRITEO_SCHEMA);
    const input = criteoRow(CRITEO_GOLDEN_LINE);
    expect(input.numeric[11]).to.equal(null);
    expect(input.categorical[21]).to.equal(null);
    const b = tf.transformBatch([input]);
    expect(b.size).to.equal(1);
    expect(Array.from(b.labels)).to.deep.equal([0]);
    expect(b.denseNames).to.deep.equal(CRITEO_SCHEMA.numericNames);
    expect(Array.from(b.dense)).to.deep.equal(GOLDEN_DENSE);
    expect(Array.from(tf.tables)).to.deep.equal(GOLDEN_IDS.map((_, i) => `c${i + 1}`));
    GOLDEN_IDS.forEach((want, i) => {
      expect(b.fieldsPerTable[`c${i + 1}`]).to.deep.equal([`C${i + 1}`]);
      expect(hex(idAt(b.ids[`c${i + 1}`], 0)), `C${i + 1}`).to.equal(want);
    });
    expect(b.mask).to.equal(undefined);
    // Independent check of C1, C22 (missing → "") and C26 against the BigInt XXH64 reference.
    expect(refId('C1', '68fd1e64')).to.equal(GOLDEN_IDS[0]);
    expect(refId('C22', '')).to.equal(GOLDEN_IDS[21]);
    expect(refId('C26', '9727dd16')).to.equal(GOLDEN_IDS[25]);
  });

  it('GOLDEN: bucketize I5 = 1382 with boundaries [0, 10, 100, 1000] is bucket b4', () => {
    const spec = criteoSpec(`  numeric: [{ name: I5, transform: bucketize, boundaries: [0, 10, 100, 1000], table: nb }]\n`
      + `  tables: [${TABLE('nb')}]\n`);
    const b = new FeatureTransformer(spec, CRITEO_SCHEMA).transformBatch([criteoRow(CRITEO_GOLDEN_LINE)]);
    expect(b.dense).to.have.length(0);
    expect(b.denseNames).to.deep.equal([]);
    expect(hex(idAt(b.ids.nb, 0))).to.equal('4cc76ae5f504099f');
    expect(refId('I5', 'b4')).to.equal('4cc76ae5f504099f');
  });

  it('bucketIndex counts boundaries <= x: a value equal to a boundary goes to the upper bucket', () => {
    const bounds = [0, 10, 100];
    const cases: [number, number][] = [[-Infinity, 0], [-5, 0], [-0, 1], [0, 1], [9.99, 1], [10, 2], [99, 2], [100, 3], [1e9, 3]];
    for (const [x, k] of cases) expect(bucketIndex(bounds, x), `x=${x}`).to.equal(k);
    expect(bucketIndex([5], 4)).to.equal(0);
    expect(bucketIndex([5], 5)).to.equal(1);
  });

  it('bucketized ids are "b<k>" hashed in the field; missing takes the missing value first', () => {
    const spec = criteoSpec(`  numeric: [{ name: I2, transform: bucketize, boundaries: [0, 10, 100], missing: 50, table: nb }]\n`
      + `  tables: [${TABLE('nb')}]\n`);
    const tf = new FeatureTransformer(spec, CRITEO_SCHEMA);
    const values = [-3, 0, 10, 100, 1e9, null];
    const b = tf.transformBatch(values.map((v) => row([0, v], [])));
    const want = [0, 1, 2, 3, 3, 2].map((k) => hex(hashFeature('I2', `b${k}`)));
    expect(values.map((_, r) => hex(idAt(b.ids.nb, r)))).to.deep.equal(want);
  });

  it('numeric transforms: none keeps x, log is log1p(max(x, 0)), missing substitutes before the transform', () => {
    const spec = criteoSpec('  numeric:\n    - { name: I1, transform: none, missing: -2.5 }\n'
      + '    - { name: I2, transform: log, missing: 3 }\n    - { name: I3 }\n');
    const tf = new FeatureTransformer(spec, CRITEO_SCHEMA);
    const b = tf.transformBatch([row([7.25, -3, 0.1], []), row([null, null, null], [])]);
    expect(b.denseNames).to.deep.equal(['I1', 'I2', 'I3']);
    expect(Array.from(b.dense)).to.deep.equal([7.25, 0, Math.fround(0.1), -2.5, Math.fround(Math.log1p(3)), 0]);
  });

  it('shared tables: fields of one row are adjacent, bucketized numeric fields first', () => {
    const spec = criteoSpec('  numeric: [{ name: I1, transform: bucketize, boundaries: [1], table: s }]\n'
      + '  categorical: [{ names: [C2, C3], table: s }, { name: C1, table: own }]\n'
      + `  tables: [${TABLE('own')}, ${TABLE('s')}]\n`);
    const tf = new FeatureTransformer(spec, CRITEO_SCHEMA);
    expect(tf.fieldsPerTable).to.deep.equal({ own: ['C1'], s: ['I1', 'C2', 'C3'] });
    const b = tf.transformBatch([row([0], ['a', 'x', 'y']), row([5], ['b', 'x', 'x'])]);
    expect(b.ids.s).to.have.length(2 * 2 * 3);
    const got = [0, 1, 2, 3, 4, 5].map((i) => idAt(b.ids.s, i));
    expect(got).to.deep.equal([
      hashFeature('I1', 'b0'), hashFeature('C2', 'x'), hashFeature('C3', 'y'),
      hashFeature('I1', 'b1'), hashFeature('C2', 'x'), hashFeature('C3', 'x'),
    ]);
    expect(got[4]).to.not.equal(got[5]); // same string, different fields: different ids
    expect([idAt(b.ids.own, 0), idAt(b.ids.own, 1)]).to.deep.equal([hashFeature('C1', 'a'), hashFeature('C1', 'b')]);
  });

  it('missing_categorical: hash gives each field its own id of ""', () => {
    const spec = criteoSpec(`  categorical: [{ names: [C1, C2], table: t }]\n  tables: [${TABLE('t')}]\n`);
    const b = new FeatureTransformer(spec, CRITEO_SCHEMA).transformBatch([row([], [null, '']), row([], ['', 'v'])]);
    expect([0, 1, 2, 3].map((i) => idAt(b.ids.t, i))).to.deep.equal([
      hashFeature('C1', ''), hashFeature('C2', ''), hashFeature('C1', ''), hashFeature('C2', 'v'),
    ]);
    expect(b.mask).to.equal(undefined);
  });

  it('missing_categorical: drop leaves id 0 and mask 0', () => {
    const spec = criteoSpec(`  categorical: [{ names: [C1, C2], table: t }]\n  missing_categorical: drop\n`
      + `  tables: [${TABLE('t')}]\n`);
    const b = new FeatureTransformer(spec, CRITEO_SCHEMA).transformBatch([row([], ['u', null]), row([], ['', 'v'])]);
    expect(Array.from(b.mask!.t)).to.deep.equal([1, 0, 0, 1]);
    expect([0, 1, 2, 3].map((i) => idAt(b.ids.t, i))).to.deep.equal([hashFeature('C1', 'u'), 0n, 0n, hashFeature('C2', 'v')]);
  });

  it('avazu schema: 22 categorical columns in file order plus the reader\'s hour_of_day, no dense', () => {
    expect(AVAZU_SCHEMA.categoricalNames).to.have.length(23);
    expect(AVAZU_SCHEMA.categoricalNames[22]).to.equal('hour_of_day');
    const spec = parseJobSpec('name: a\ndata: { format: avazu }\nmodel: { kind: fm }\nfeatures:\n'
      + '  categorical: [{ names: [hour, site_id, C21], table: emb }]\n'
      + `  tables: [${TABLE('emb', 8)}]\n`);
    const tf = new FeatureTransformer(spec, AVAZU_SCHEMA);
    // id,click,hour,C1,banner_pos,site_id,... from a real train.csv line, after id and click.
    const cols = ('14102100,1005,0,1fbe01fe,f3845767,28905ebd,ecad2386,7801e8d9,07d7df22,a99f214a,ddd2926e,'
      + '44956a24,1,2,15706,320,50,1722,0,35,-1,79,00').split(',');
    const b = tf.transformBatch([{ label: 1, numeric: [], categorical: cols }]);
    expect(b.dense).to.have.length(0);
    expect([0, 1, 2].map((i) => idAt(b.ids.emb, i))).to.deep.equal([
      hashFeature('hour', '14102100'), hashFeature('site_id', '1fbe01fe'), hashFeature('C21', '79'),
    ]);
    expect(Array.from(b.labels)).to.deep.equal([1]);
  });

  it('rejects malformed rows naming the row and field, and spec fields missing from the schema', () => {
    const spec = criteoSpec(`  numeric: [{ name: I1 }]\n  categorical: [{ name: C1, table: t }]\n  tables: [${TABLE('t')}]\n`);
    const tf = new FeatureTransformer(spec, CRITEO_SCHEMA);
    const bad = (r: RawRow, text: string) =>
      expect(() => tf.transformBatch([row([1], ['a']), r])).to.throw(text).with.property('code', ERROR_CODES.INVALID_ARGUMENT);
    bad({ label: 0, numeric: [1], categorical: [] }, 'row 1: expected 13 numeric and 26 categorical values, got 1 and 0');
    bad(row([1], ['a'], 2), 'row 1: label must be in [0, 1] (got 2)');
    bad(row([NaN], ['a']), 'row 1: numeric field I1 must be a finite number (got NaN)');
    bad(row([1], [7 as unknown as string]), 'row 1: categorical field C1 must be a string (got number)');
    expect(() => new FeatureTransformer(spec, AVAZU_SCHEMA)).to.throw('numeric field "I1" of the spec is not a column')
      .with.property('code', ERROR_CODES.CONFIG);
  });

  it('an empty batch has empty arrays of the right keys', () => {
    const spec = criteoSpec(`  numeric: [{ name: I1 }]\n  categorical: [{ name: C1, table: t }]\n  tables: [${TABLE('t')}]\n`);
    const b = new FeatureTransformer(spec, CRITEO_SCHEMA).transformBatch([]);
    expect(b.size).to.equal(0);
    expect(Object.keys(b.ids)).to.deep.equal(['t']);
    expect(b.ids.t).to.have.length(0);
  });
});
