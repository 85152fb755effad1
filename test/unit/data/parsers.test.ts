import { expect } from 'chai';
import * as fs from 'node:fs';
import { LineError, parseAvazuLine, parseCriteoLine, parserFor } from '../../../src/data/parsers';
import { AVAZU_HEADER, AVAZU_SCHEMA, CRITEO_SCHEMA, newRawRow } from '../../../src/data/record';
import { AVAZU_SAMPLE, CRITEO_SAMPLE, oracleLines, requireFile } from './fixtures';

/** Line 6 of the Criteo DAC sample: empty integers, a negative one, empty trailing categoricals. */
const CRITEO_LINE = [
  '0', '', '-1', '', '', '12824', '', '0', '0', '6', '', '0', '', '',
  '05db9164', '6c9c9cf3', '2730ec9c', '5400db8b', '43b19349', '6f6d9be8', '53b5f978', '0b153874', 'a73ee510',
  '3b08e48b', '91e8fc27', 'be45b877', '9ff13f22', '07d13a8f', '06969a20', '9bc7fff5', '776ce399', '92555263',
  '', '', '242bb710', '8ec974f4', 'be7c41b4', '72c78f11', '', '',
].join('\t');

const CRITEO_EXPECTED = {
  label: 0,
  numeric: [null, -1, null, null, 12824, null, 0, 0, 6, null, 0, null, null],
  categorical: [
    '05db9164', '6c9c9cf3', '2730ec9c', '5400db8b', '43b19349', '6f6d9be8', '53b5f978', '0b153874', 'a73ee510',
    '3b08e48b', '91e8fc27', 'be45b877', '9ff13f22', '07d13a8f', '06969a20', '9bc7fff5', '776ce399', '92555263',
    null, null, '242bb710', '8ec974f4', 'be7c41b4', '72c78f11', null, null,
  ],
};

/** Line 2 (first data line) of the Avazu sample. */
const AVAZU_LINE = '1000009418151094273,0,14102100,1005,0,1fbe01fe,f3845767,28905ebd,ecad2386,7801e8d9,' +
  '07d7df22,a99f214a,ddd2926e,44956a24,1,2,15706,320,50,1722,0,35,-1,79';

const AVAZU_EXPECTED = {
  label: 0,
  numeric: [],
  categorical: [
    '14102100', '1005', '0', '1fbe01fe', 'f3845767', '28905ebd', 'ecad2386', '7801e8d9', '07d7df22', 'a99f214a',
    'ddd2926e', '44956a24', '1', '2', '15706', '320', '50', '1722', '0', '35', '-1', '79', '00',
  ],
};

/** The LineError reason thrown by fn, or a failure. */
function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(LineError);
    return (err as LineError).reason;
  }
  expect.fail('expected a LineError');
}

/** CRITEO_LINE with field i replaced. */
function criteoWith(i: number, value: string): string {
  const fields = CRITEO_LINE.split('\t');
  fields[i] = value;
  return fields.join('\t');
}

describe('data/parsers: Criteo', () => {
  it('the golden lines are real sample lines (Criteo line 6, Avazu line 2)', function () {
    requireFile(this, CRITEO_SAMPLE);
    requireFile(this, AVAZU_SAMPLE);
    expect(oracleLines(fs.readFileSync(CRITEO_SAMPLE))[5]).to.equal(CRITEO_LINE);
    expect(oracleLines(fs.readFileSync(AVAZU_SAMPLE))[1]).to.equal(AVAZU_LINE);
  });

  it('parses a real line with empty and negative fields (golden)', () => {
    expect(parseCriteoLine(CRITEO_LINE)).to.deep.equal(CRITEO_EXPECTED);
    expect(CRITEO_SCHEMA.numericNames).to.have.length(13);
    expect(CRITEO_SCHEMA.categoricalNames[25]).to.equal('C26');
  });

  it('ignores a trailing \\r and parses label 1, "-0" as 0', () => {
    const row = parseCriteoLine(`${criteoWith(0, '1').replace('\t12824\t', '\t-0\t')}\r`);
    expect(row.label).to.equal(1);
    expect(Object.is(row.numeric[4], 0)).to.equal(true);
    expect(row.categorical[25]).to.equal(null);
  });

  it('fills `out` in place', () => {
    const out = newRawRow(CRITEO_SCHEMA);
    expect(parseCriteoLine(CRITEO_LINE, out)).to.equal(out);
    expect(out).to.deep.equal(CRITEO_EXPECTED);
    parseCriteoLine(criteoWith(1, '7'), out);
    expect(out.numeric[0]).to.equal(7);
  });

  it('malformed lines name the problem', () => {
    const fields = CRITEO_LINE.split('\t');
    expect(reasonOf(() => parseCriteoLine(fields.slice(0, 39).join('\t')))).to.equal('expected 40 fields, got 39');
    expect(reasonOf(() => parseCriteoLine(`${CRITEO_LINE}\textra`))).to.equal('expected 40 fields, got 41');
    expect(reasonOf(() => parseCriteoLine(''))).to.equal('expected 40 fields, got 1');
    expect(reasonOf(() => parseCriteoLine(criteoWith(5, 'abc')))).to.equal("I5: 'abc' is not an integer");
    expect(reasonOf(() => parseCriteoLine(criteoWith(2, '-')))).to.equal("I2: '-' is not an integer");
    expect(reasonOf(() => parseCriteoLine(criteoWith(13, '1.5')))).to.equal("I13: '1.5' is not an integer");
    expect(reasonOf(() => parseCriteoLine(criteoWith(1, '99999999999999999999')))).to.match(/^I1: .* outside the safe integer range$/);
    expect(reasonOf(() => parseCriteoLine(criteoWith(0, '2')))).to.equal("label: '2' is not 0 or 1");
    expect(reasonOf(() => parseCriteoLine(criteoWith(0, '')))).to.equal("label: '' is not 0 or 1");
    expect(reasonOf(() => parseCriteoLine(criteoWith(3, 'x'.repeat(100))))).to.equal(`I3: '${'x'.repeat(40)}...' is not an integer`);
  });
});

describe('data/parsers: Avazu', () => {
  it('parses a real line (golden), deriving hour_of_day', () => {
    expect(parseAvazuLine(AVAZU_LINE)).to.deep.equal(AVAZU_EXPECTED);
    expect(AVAZU_SCHEMA.categoricalNames[0]).to.equal('hour');
    expect(AVAZU_SCHEMA.categoricalNames[22]).to.equal('hour_of_day');
    expect(AVAZU_SCHEMA.categoricalNames).to.have.length(AVAZU_EXPECTED.categorical.length);
  });

  it('empty fields are null; click 1; hour 14102917 -> "17"; trailing \\r ignored', () => {
    const line = AVAZU_LINE.replace(',0,14102100,', ',1,14102917,').replace(',1fbe01fe,', ',,');
    const row = parseAvazuLine(`${line}\r`);
    expect(row.label).to.equal(1);
    expect(row.categorical[3]).to.equal(null);
    expect(row.categorical[22]).to.equal('17');
    expect(row.categorical[21]).to.equal('79');
  });

  it('malformed lines name the problem (the header is not a data line)', () => {
    expect(reasonOf(() => parseAvazuLine(AVAZU_LINE.slice(0, AVAZU_LINE.lastIndexOf(','))))).to.equal('expected 24 fields, got 23');
    expect(reasonOf(() => parseAvazuLine(`${AVAZU_LINE},9`))).to.equal('expected 24 fields, got 25');
    expect(reasonOf(() => parseAvazuLine(AVAZU_LINE.replace(',0,14102100,', ',yes,14102100,')))).to.equal("click: 'yes' is not 0 or 1");
    expect(reasonOf(() => parseAvazuLine(AVAZU_HEADER))).to.equal("click: 'click' is not 0 or 1");
  });

  it('parserFor picks the format', () => {
    expect(parserFor('criteo')).to.equal(parseCriteoLine);
    expect(parserFor('avazu')).to.equal(parseAvazuLine);
  });
});
