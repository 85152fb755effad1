import { expect } from 'chai';
import { stringify } from 'yaml';
import { parseJobSpec } from '../../../src/spec/job-spec';
import { baseSpec, expectSpecError, parseObject } from './fixtures';

/** baseSpec() with `edit` applied. */
function edited(edit: (s: Record<string, any>) => void): Record<string, any> {
  const s = baseSpec();
  edit(s);
  return s;
}

describe('spec/job-spec errors name the key path', () => {
  it('the base fixture is valid', () => {
    expect(parseObject(baseSpec()).name).to.equal('unit');
  });

  it('top level: empty document, unknown key, name', () => {
    expectSpecError('', '', 'the spec is empty');
    expectSpecError('- a\n- b\n', '', 'must be a mapping (got a list)');
    expectSpecError(edited((s) => { s.modle = s.model; }), 'modle', 'unknown key (did you mean model?)');
    expectSpecError(edited((s) => { delete s.name; }), 'name', 'required');
    expectSpecError(edited((s) => { s.name = 'my job'; }), 'name', 'must be 1-128 characters of [A-Za-z0-9_.-]');
    expectSpecError(edited((s) => { delete s.model; }), 'model', 'required');
    expectSpecError(edited((s) => { delete s.features; }), 'features', 'required');
  });

  it('data', () => {
    expectSpecError(edited((s) => { s.data.format = 'parquet'; }), 'data.format',
      'unknown format "parquet" (expected one of criteo, avazu)');
    expectSpecError(edited((s) => { delete s.data.format; }), 'data.format', 'required (one of criteo, avazu)');
    expectSpecError(edited((s) => { s.data.max_error_rate = 2; }), 'data.max_error_rate', 'must be <= 1 (got 2)');
    expectSpecError(edited((s) => { s.data.train = 3; }), 'data.train', 'must be a non-empty string (got 3)');
    expectSpecError(edited((s) => { s.data.evl = 'x'; }), 'data.evl', 'unknown key (did you mean eval?)');
  });

  it('model', () => {
    expectSpecError(edited((s) => { s.model.kind = 'dfm'; }), 'model.kind',
      'unknown model "dfm" (expected one of lr, fm, deepfm, widedeep, dcn, din)');
    expectSpecError(edited((s) => { s.model.kind = 'fm'; }), 'model.hidden', 'not used by model fm');
    expectSpecError(edited((s) => { s.model.cross_layers = 2; }), 'model.cross_layers', 'only used by model dcn');
    expectSpecError(edited((s) => { s.model.hidden = []; }), 'model.hidden', 'must list 1 to 16 layer widths (got 0)');
    expectSpecError(edited((s) => { s.model.hidden = [400, 0]; }), 'model.hidden[1]', 'must be >= 1 (got 0)');
    expectSpecError(edited((s) => { s.model.hidden = [400, 1.5]; }), 'model.hidden[1]', 'must be an integer');
    expectSpecError(edited((s) => { s.model = { kind: 'dcn', cross_layers: 0 }; }), 'model.cross_layers', 'must be >= 1');
    expectSpecError(edited((s) => { s.model.dense_optimizer = { kind: 'adam', lr: -1 }; }),
      'model.dense_optimizer.lr', 'must be > 0 (got -1)');
    expectSpecError(edited((s) => { s.model.dense_optimizer = 'adam'; }), 'model.dense_optimizer', 'must be a mapping');
  });

  it('training', () => {
    expectSpecError(edited((s) => { s.training = { bacth_size: 10 }; }), 'training.bacth_size',
      'unknown key (did you mean batch_size?)');
    expectSpecError(edited((s) => { s.training = { batch_size: 0 }; }), 'training.batch_size', 'must be >= 1 (got 0)');
    expectSpecError(edited((s) => { s.training = { batch_size: '1024' }; }), 'training.batch_size',
      'must be an integer (got "1024")');
    expectSpecError(edited((s) => { s.training = { max_inflight_pushes: -1 }; }), 'training.max_inflight_pushes', 'must be >= 0 (got -1)');
    expectSpecError(edited((s) => { s.training = { dense_sync_every: 0 }; }), 'training.dense_sync_every', 'must be >= 1 (got 0)');
    expectSpecError(edited((s) => { s.training = { seed: 2 ** 32 }; }), 'training.seed', 'must be <= 4294967295');
    expectSpecError(edited((s) => { s.training = { epochs: 0.5 }; }), 'training.epochs', 'must be an integer');
    // Issue 18: the wire encoding is f32 or f16, and a bad value names both.
    expectSpecError(edited((s) => { s.training = { wire_encoding: 'bf16' }; }), 'training.wire_encoding',
      'unknown wire encoding "bf16" (expected one of f32, f16)');
  });

  it('fields: unknown to the format, listed twice, name vs names', () => {
    expectSpecError(edited((s) => { s.features.numeric[0].name = 'I14'; }), 'features.numeric[0].name',
      'unknown numeric field "I14" for format criteo (expected one of I1, I2');
    expectSpecError(edited((s) => { s.features.categorical[1].names = ['C2', 'C27']; }), 'features.categorical[1].names[1]',
      'unknown categorical field "C27"');
    expectSpecError(edited((s) => { s.features.categorical.push({ name: 'C1', table: 'c1' }); }), 'features.categorical[2].name',
      'field "C1" is listed twice (first at features.categorical[0].name)');
    expectSpecError(edited((s) => { s.features.categorical[0].names = ['C9']; }), 'features.categorical[0]',
      'give either name or names, not both');
    expectSpecError(edited((s) => { s.features.categorical[1].names = []; }), 'features.categorical[1].names',
      'must list at least one field');
    expectSpecError(edited((s) => { s.features.categorical[0] = { table: 'c1' }; }), 'features.categorical[0].name',
      'required (or names: [...])');
    expectSpecError(edited((s) => { delete s.features.categorical[0].table; }), 'features.categorical[0].table', 'required');
    expectSpecError(edited((s) => { s.features.categorical[0].tabel = 'c1'; }), 'features.categorical[0].tabel',
      'unknown key (did you mean table?)');
    expectSpecError(edited((s) => { s.features.numeric[0].transform = 'sqrt'; }), 'features.numeric[0].transform',
      'unknown transform "sqrt" (expected one of none, log, bucketize)');
    expectSpecError(edited((s) => { s.features.missing_categorical = 'zero'; }), 'features.missing_categorical',
      'unknown policy "zero" (expected one of hash, drop)');
    expectSpecError(edited((s) => { s.features = { tables: [] }; s.model = { kind: 'widedeep' }; }), 'features',
      'needs at least one numeric, categorical or list field');
    expectSpecError(edited((s) => { s.data.format = 'avazu'; }), 'features.numeric[0].name',
      'unknown numeric field "I1" for format avazu (expected one of none)');
  });

  it('bucketize: boundaries sorted, finite, present; keys only with bucketize', () => {
    const bucket = (extra: Record<string, unknown>) => edited((s) => {
      s.features.numeric.push({ name: 'I2', transform: 'bucketize', boundaries: [0, 10, 100], table: 'c1', ...extra });
    });
    expect(parseObject(bucket({})).features.numeric[1]).to.include({ transform: 'bucketize', table: 'c1' });
    expectSpecError(bucket({ boundaries: [0, 100, 10] }), 'features.numeric[1].boundaries[2]',
      'boundaries must be strictly increasing (10 after 100)');
    expectSpecError(bucket({ boundaries: [0, 10, 10] }), 'features.numeric[1].boundaries[2]', 'boundaries must be strictly increasing (10 after 10)');
    expectSpecError(bucket({ boundaries: undefined }), 'features.numeric[1].boundaries', 'required with transform: bucketize');
    expectSpecError(bucket({ boundaries: [] }), 'features.numeric[1].boundaries', 'must list at least one boundary');
    expectSpecError(bucket({ boundaries: [1, 'x'] }), 'features.numeric[1].boundaries[1]', 'must be a finite number (got "x")');
    expectSpecError(bucket({ table: 'nope' }), 'features.numeric[1].table', 'unknown table "nope"');
    expectSpecError('name: x\ndata: {format: criteo}\nmodel: {kind: widedeep}\nfeatures:\n  numeric:\n'
      + '    - {name: I1, transform: bucketize, boundaries: [1, .inf], table: t}\n'
      + '  tables: [{name: t, dim: 2, optimizer: {kind: sgd, lr: 1}}]\n',
    'features.numeric[0].boundaries[1]', 'must be a finite number (got Infinity)');
    expectSpecError(edited((s) => { s.features.numeric[0].boundaries = [1, 2]; }), 'features.numeric[0].boundaries',
      'only used with transform: bucketize (transform is log)');
    expectSpecError(edited((s) => { s.features.numeric[0].table = 'c1'; }), 'features.numeric[0].table',
      'only used with transform: bucketize');
  });

  it('tables: references, usage, uniqueness, required keys', () => {
    const four = edited((s) => {
      s.features.categorical.push({ name: 'C4', table: 'c1' }, { name: 'C5', table: 'foo' });
    });
    expectSpecError(four, 'features.categorical[3].table', 'unknown table "foo" (defined: c1, shared in features.tables)');
    expectSpecError(edited((s) => { s.features.tables.push({ name: 'unused', dim: 4, optimizer: { kind: 'sgd', lr: 1 } }); }),
      'features.tables[2].name', 'table "unused" is never used by a feature');
    expectSpecError(edited((s) => { s.features.tables.push({ ...s.features.tables[0] }); }), 'features.tables[2].name',
      'table "c1" is defined twice (first at features.tables[0])');
    expectSpecError(edited((s) => { delete s.features.tables[0].dim; }), 'features.tables[0].dim',
      'required (or set it in features.table_defaults)');
    expectSpecError(edited((s) => { delete s.features.tables[1].optimizer; }), 'features.tables[1].optimizer', 'required');
    expectSpecError(edited((s) => { s.features.tables[0].name = 'a b'; }), 'features.tables[0].name',
      'must be 1-128 characters of [A-Za-z0-9_.-]');
    expectSpecError(edited((s) => { s.features.tables[0].dim = 0; }), 'features.tables[0].dim', 'must be >= 1 (got 0)');
    expectSpecError(edited((s) => { s.features.tables[0].dim = 5000; }), 'features.tables[0].dim', 'must be <= 4096');
    expectSpecError(edited((s) => { s.features.tables[0].seed = -1; }), 'features.tables[0].seed', 'must be >= 0');
    expectSpecError(edited((s) => { s.features.tables[0].size = 3; }), 'features.tables[0].size', 'unknown key');
  });

  it('optimizers and initializers are checked by the PS validators, at the YAML path', () => {
    const opt = (o: unknown) => edited((s) => { s.features.tables[0].optimizer = o; });
    expectSpecError(opt({ kind: 'adagrad', lr: 0 }), 'features.tables[0].optimizer.lr', 'must be > 0 (got 0)');
    expectSpecError(opt({ kind: 'rmsprop', lr: 1 }), 'features.tables[0].optimizer.kind',
      'must be one of sgd, adagrad, adam, ftrl (got "rmsprop")');
    expectSpecError(opt({ kind: 'adam', lr: 1, beta_1: 0.9 }), 'features.tables[0].optimizer.beta_1',
      'unknown key (expected one of kind, lr, beta1, beta2, eps, clip_norm, l2_reg)');
    expectSpecError(opt({ kind: 'adagrad', lr: 1, initialAccumulator: 0.1 }),
      'features.tables[0].optimizer.initialAccumulator', 'unknown key (did you mean initial_accumulator?)');
    expectSpecError(opt({ kind: 'adagrad', lr: 1, initial_accumulator: -1 }),
      'features.tables[0].optimizer.initial_accumulator', 'must be >= 0 (got -1)');
    expectSpecError(opt({ kind: 'adagrad', lr: 1, initial_accumulator: 0, eps: 0 }),
      'features.tables[0].optimizer.eps', 'must be > 0 when initial_accumulator is 0');
    expectSpecError(edited((s) => { s.features.tables[0].initializer = { kind: 'normal', std: -1 }; }),
      'features.tables[0].initializer.std', 'must be >= 0 (got -1)');
    expectSpecError(edited((s) => { s.features.table_defaults = { optimizer: { kind: 'sgd' } }; }),
      'features.table_defaults.optimizer.lr', 'must be a finite number (got undefined)');
    expectSpecError(edited((s) => { s.features.table_defaults = { dim: 4, seed: 3 }; }),
      'features.table_defaults.seed', 'unknown key (expected one of dim, optimizer, initializer, weight_format, admission, eviction)');
  });

  it('model and table dims must agree', () => {
    expectSpecError(edited((s) => { s.features.tables[1].dim = 8; }), 'features.tables[1].dim',
      'model deepfm needs every table to have the same dim; table "shared" has dim 8 but table "c1" has dim 4');
    expectSpecError(edited((s) => { s.model = { kind: 'lr' }; }), 'features.tables[0].dim',
      'model lr needs every table to have dim 1 (its embeddings are linear weights); table "c1" has dim 4');
    expectSpecError(edited((s) => { s.features = { numeric: [{ name: 'I1' }] }; s.model = { kind: 'fm' }; }), 'features',
      'model fm needs at least one categorical or bucketized field');
    expect(parseObject(edited((s) => { s.features.tables[1].dim = 8; s.model = { kind: 'dcn' }; })).model.crossLayers).to.equal(3);
  });

  it('YAML problems and locations', () => {
    const bad = expectSpecError('name: x\ndata: [unclosed\n', '', 'invalid YAML');
    expect(bad.line).to.be.a('number');
    expectSpecError('name: x\nname: y\n', '', 'invalid YAML: Map keys must be unique');
    const text = 'name: x\ndata:\n  format: criteo\nmodel:\n  kind: dfm\nfeatures: {}\n';
    const err = expectSpecError(text, 'model.kind', 'unknown model "dfm"');
    expect(err.message.startsWith('<inline>:5:9: model.kind: unknown model "dfm"')).to.equal(true);
    expect(() => parseJobSpec(text, 'job.yaml')).to.throw(/^job\.yaml:5:9: model\.kind: /);
    const typo = 'name: x\ntraining:\n  bacth_size: 3\n';
    expect(() => parseJobSpec(typo, 'job.yaml')).to.throw('job.yaml:3:15: training.bacth_size: unknown key');
  });

  // Issue #16: found by the file fuzzer (npm run fuzz): both printed a stack or a 10 MB line before.
  it('hostile documents: an alias bomb, a 10 MB file, 100,000 nested brackets are one CONFIG error each; long values are clipped', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefghij'.split('').map((c, i) => {
      const p = String.fromCharCode(97 + i);
      return `${c}: &${c} [*${p}, *${p}, *${p}, *${p}]`;
    })].join('\n');
    expectSpecError(bomb, '', 'invalid YAML: Excessive alias count indicates a resource exhaustion attack (at most 100 alias expansions)');
    const long = expectSpecError(`name: ${'n'.repeat(100_000)}\n`, 'name', 'must be 1-128 characters');
    expect(long.message).to.match(/… \(100\d{3} characters\)/);
    expect(long.message.length).to.be.below(800);
    expectSpecError(`name: ${'n'.repeat(10 << 20)}\n`, '', 'the spec is 10485767 characters; a job spec is at most 1048576');
    expectSpecError(`${'['.repeat(100_000)}${']'.repeat(100_000)}`, '', 'invalid YAML: [ and { nest 100000 deep; at most 64');
    const commented = `${stringify(baseSpec())}# ${'['.repeat(100)}\nx_note: '${'{'.repeat(100)}'\n`;
    expect(() => parseJobSpec(commented), 'brackets in comments and quoted strings do not count').to.throw('x_note: unknown key');
    const key = expectSpecError(edited((s) => { s.training = { ['k'.repeat(5000)]: 1 }; }), `training.${'k'.repeat(5000)}`.slice(0, 300) + '… (5009 characters)', 'unknown key');
    expect(key.message.length).to.be.below(800);
  });
});
