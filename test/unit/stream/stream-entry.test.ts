/**
 * Issue #15 §1: a stream entry carries one row, as a data line (`line`) or as a JSON object of
 * the format's field names (`json`); anything else is a LineError naming what was wrong.
 */
import { expect } from 'chai';
import { LineError, parseAvazuLine, parseCriteoLine } from '../../../src/data/parsers';
import { AVAZU_SCHEMA, CRITEO_SCHEMA } from '../../../src/data/record';
import { parseStreamEntry } from '../../../src/stream/stream-entry';
import { isStreamUrl, parseStreamUrl, partitionUrl } from '../../../src/stream/stream-url';

const CRITEO_LINE = ['1', '5', '', ...Array(11).fill('2'), '68fd1e64', ...Array(25).fill('')].join('\t');

function reasonOf(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    expect(err).to.be.instanceOf(LineError);
    return (err as LineError).reason;
  }
  throw new Error('expected a LineError');
}

describe('stream entries (issue #15)', () => {
  it('parses a Criteo line entry exactly as the file parser does', () => {
    expect(parseStreamEntry({ id: '1-0', fields: { line: CRITEO_LINE } }, CRITEO_SCHEMA)).to.deep.equal(parseCriteoLine(CRITEO_LINE));
  });

  it('parses a JSON entry keyed by the Criteo field names into the same row as its line', () => {
    const json = JSON.stringify({ label: 1, I1: 5, ...Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`I${i + 3}`, 2])), C1: '68fd1e64' });
    expect(parseStreamEntry({ id: '1-0', fields: { json } }, CRITEO_SCHEMA)).to.deep.equal(parseCriteoLine(CRITEO_LINE));
  });

  it('parses an Avazu JSON entry with `label` or `click`, deriving hour_of_day', () => {
    const cols = { id: '7', click: 1, hour: '14102100', C1: '1005', site_id: '1fbe01fe' };
    const line = ['7', '1', '14102100', '1005', '', '1fbe01fe', ...Array(18).fill('')].join(',');
    const want = parseAvazuLine(line);
    expect(parseStreamEntry({ id: '1-0', fields: { json: JSON.stringify(cols) } }, AVAZU_SCHEMA)).to.deep.equal(want);
    const { click, ...rest } = cols;
    expect(parseStreamEntry({ id: '1-0', fields: { json: JSON.stringify({ ...rest, label: click }) } }, AVAZU_SCHEMA)).to.deep.equal(want);
  });

  it('names what is wrong with a bad entry', () => {
    expect(reasonOf(() => parseStreamEntry({ id: '1-0', fields: { data: 'x' } }, CRITEO_SCHEMA))).to.equal("entry has no 'line' or 'json' field (fields: data)");
    expect(reasonOf(() => parseStreamEntry({ id: '1-0', fields: { json: '{nope' } }, CRITEO_SCHEMA))).to.match(/^json entry is not JSON/);
    expect(reasonOf(() => parseStreamEntry({ id: '1-0', fields: { json: '[1]' } }, CRITEO_SCHEMA))).to.equal('json entry is not a JSON object');
    expect(reasonOf(() => parseStreamEntry({ id: '1-0', fields: { json: '{"label":2}' } }, CRITEO_SCHEMA))).to.match(/label/);
    expect(reasonOf(() => parseStreamEntry({ id: '1-0', fields: { json: '{"label":1,"C1":"a\\tb"}' } }, CRITEO_SCHEMA))).to.equal('json field C1 contains a separator');
    expect(reasonOf(() => parseStreamEntry({ id: '1-0', fields: { json: '{"label":1,"C1":{}}' } }, CRITEO_SCHEMA))).to.match(/C1 must be a string or a number/);
    expect(reasonOf(() => parseStreamEntry({ id: '1-0', fields: { line: 'a\tb' } }, CRITEO_SCHEMA))).to.match(/expected 40 fields, got 2/);
  });
});

describe('redis-stream URLs (issue #15)', () => {
  it('parses HOST:PORT/KEY and names partitions KEY:n', () => {
    const u = parseStreamUrl('redis-stream://127.0.0.1:6390/clicks');
    expect(u).to.deep.equal({ host: '127.0.0.1', port: 6390, key: 'clicks' });
    expect(partitionUrl(u, 3)).to.equal('redis-stream://127.0.0.1:6390/clicks%3A3');
    expect(parseStreamUrl(partitionUrl(u, 'eval')).key).to.equal('clicks:eval');
    expect(isStreamUrl('redis-stream://h:1/k')).to.equal(true);
    expect(isStreamUrl('/data/train.txt')).to.equal(false);
  });

  it('refuses a malformed URL with one line naming what is wrong and the expected form', () => {
    for (const [text, why] of [['redis-stream://h/k', 'no port'], ['redis-stream://h:1/', 'key'], ['redis-stream://h:1/a/b', 'key'],
      ['redis://h:1/k', 'scheme'], ['redis-stream://h:1/k?x=1', 'query'], ['nope', 'not a URL']]) {
      expect(() => parseStreamUrl(text)).to.throw(new RegExp(`${why}.*expected redis-stream://HOST:PORT/KEY`));
    }
  });
});
