/**
 * Issue #22 §5: docs/job-spec.schema.json is generated from the validator's own definitions
 * (`npm run gen:schema`), and the two agree: the committed file is what the generator builds, and
 * a JSON Schema validator (ajv) and validateJobSpec judge the example specs and a set of broken
 * ones the same way.
 */
import Ajv from 'ajv';
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { jobSpecSchema, jobSpecSchemaText } from '../../../src/spec/job-spec-schema';
import { validateJobSpec } from '../../../src/spec/validate';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const EXAMPLES = path.join(ROOT, 'examples');

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A copy of the synthetic example with `edit` applied. */
function broken(edit: (d: Doc) => void): Doc {
  const d = parse(fs.readFileSync(path.join(EXAMPLES, 'synthetic-deepfm.yaml'), 'utf8')) as Doc;
  edit(d);
  return d;
}

/** Whether the validator accepts `doc`. */
function validatorAccepts(doc: unknown): boolean {
  try {
    validateJobSpec(doc);
    return true;
  } catch {
    return false;
  }
}

describe('docs/job-spec.schema.json (issue #22 §5)', () => {
  const check = new Ajv({ allErrors: true, strictTypes: false }).compile(jobSpecSchema());

  it('is what `npm run gen:schema` builds from the validator (regenerate it after changing the spec)', () => {
    expect(fs.readFileSync(path.join(ROOT, 'docs', 'job-spec.schema.json'), 'utf8')).to.equal(jobSpecSchemaText());
  });

  for (const file of fs.readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml'))) {
    it(`accepts examples/${file}, as the validator does`, () => {
      const doc = parse(fs.readFileSync(path.join(EXAMPLES, file), 'utf8')) as unknown;
      expect(validatorAccepts(doc), 'validator').to.equal(true);
      expect(check(doc), JSON.stringify(check.errors)).to.equal(true);
    });
  }

  const cases: [string, (d: Doc) => void][] = [
    ['an unknown top-level key', (d) => { d.trainig = {}; }],
    ['no model', (d) => { delete d.model; }],
    ['a name with a space', (d) => { d.name = 'my job'; }],
    ['an unknown data.format', (d) => { d.data.format = 'parquet'; }],
    ['data.max_error_rate above 1', (d) => { d.data.max_error_rate = 2; }],
    ['an unknown model.kind', (d) => { d.model.kind = 'deepfn'; }],
    ['an empty model.hidden', (d) => { d.model.hidden = []; }],
    ['training.epochs 0', (d) => { d.training.epochs = 0; }],
    ['a fractional batch_size', (d) => { d.training.batch_size = 1.5; }],
    ['a camelCase training key', (d) => { d.training.batchSize = 256; }],
    ['a table dim of 0', (d) => { d.features.tables[0].dim = 0; }],
    ['an unknown optimizer kind', (d) => { d.features.tables[0].optimizer.kind = 'adamw2'; }],
    ['a categorical entry without a table', (d) => { delete d.features.categorical[0].table; }],
    ['a numeric entry with both name and names', (d) => { d.features.numeric[0].name = 'I1'; }],
    ['an unknown numeric transform', (d) => { d.features.numeric[0].transform = 'sqrt'; }],
    ['an unknown missing_categorical policy', (d) => { d.features.missing_categorical = 'skip'; }],
  ];
  for (const [what, edit] of cases) {
    it(`refuses ${what}, as the validator does`, () => {
      const doc = broken(edit);
      expect(validatorAccepts(doc), 'validator').to.equal(false);
      expect(check(doc), 'schema').to.equal(false);
    });
  }
});
