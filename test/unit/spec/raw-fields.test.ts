/**
 * Issue 14: the raw field values that sliced evaluation groups rows by, read by the job spec's
 * field names, and unknown names refused with the closest field and the spec's fields.
 */
import { expect } from 'chai';
import { ERROR_CODES } from '../../../src/common/errors';
import { CRITEO_SCHEMA } from '../../../src/spec/formats';
import { parseJobSpec } from '../../../src/spec/job-spec';
import { rawFieldReader, specFieldNames } from '../../../src/spec/raw-fields';

const TABLE = '{ name: t, dim: 4, optimizer: { kind: sgd, lr: 1 } }';
const SPEC = parseJobSpec(`name: slices\ndata: { format: criteo }\nmodel: { kind: widedeep }\nfeatures:
  numeric: [{ name: I2, transform: log }, { name: I5, transform: bucketize, boundaries: [1, 10], table: t }]
  categorical: [{ name: C6, table: t }, { name: C9, table: t }]
  tables: [${TABLE}]`);

/** A Criteo row with I2 = 7, I5 empty, C6 = "7e0ccccf", C9 empty (every other cell empty too). */
const ROW = {
  label: 1,
  numeric: Array.from({ length: 13 }, (_, i) => (i === 1 ? 7 : null)),
  categorical: Array.from({ length: 26 }, (_, i) => (i === 5 ? '7e0ccccf' : null)),
};

describe('spec/raw-fields (issue 14)', () => {
  it('lists the spec\'s fields, numeric first, and reads their raw values (null when empty)', () => {
    expect(specFieldNames(SPEC)).to.deep.equal(['I2', 'I5', 'C6', 'C9']);
    const read = rawFieldReader(SPEC, CRITEO_SCHEMA, ['C6', 'I2', 'I5', 'C9'], '--slice-by');
    expect(read(ROW)).to.deep.equal({ C6: '7e0ccccf', I2: 7, I5: null, C9: null });
  });

  it('refuses a name the spec does not have, suggesting the closest and listing the fields', () => {
    const attempt = (names: string[]) => () => rawFieldReader(SPEC, CRITEO_SCHEMA, names, '--group-by');
    const fields = 'its fields are I2, I5, C6, C9';
    expect(attempt(['C6', 'C66'])).to.throw(`--group-by: "C66" is not a field of job slices (did you mean C6?); ${fields}`)
      .with.property('code', ERROR_CODES.CONFIG);
    expect(attempt(['c9'])).to.throw('"c9" is not a field of job slices (did you mean C9?)');
    // C1 is a column of the Criteo format but not a field of this job: its raw value never reaches the model.
    expect(attempt(['C1'])).to.throw('"C1" is not a field of job slices (did you mean C6?)');
    expect(attempt(['user_id'])).to.throw(`"user_id" is not a field of job slices; ${fields}`);
  });
});
