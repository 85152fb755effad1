/** Issue 22 §1: which format a bad line looks like, and file errors as TESSERA_ERR_BAD_DATA. */
import { expect } from 'chai';
import { ERROR_CODES, TesseraError } from '../../../src/common/errors';
import { asDataError, formatHint, sniffFormat } from '../../../src/data/data-errors';
import { AVAZU_HEADER } from '../../../src/data/record';

describe('data errors (issue 22)', () => {
  const avazuRow = '1000009418151094273,0,14102100,1005,0,1fbe01fe,f3845767,28905ebd,ecad2386,7801e8d9,07d7df22,a99f214a,ddd2926e,44956a24,1,2,15706,320,50,1722,0,35,-1,79';
  const criteoRow = ['1', ...Array.from({ length: 13 }, () => '3'), ...Array.from({ length: 26 }, () => 'ab12')].join('\t');

  it('sniffs the Avazu header and rows, Criteo rows, and other CSV', () => {
    expect(sniffFormat(AVAZU_HEADER)).to.equal('avazu');
    expect(sniffFormat(`${avazuRow}\r`)).to.equal('avazu');
    expect(sniffFormat(criteoRow)).to.equal('criteo');
    expect(sniffFormat('a,b,c')).to.equal('csv');
    expect(sniffFormat('hello')).to.equal(undefined);
  });

  it('hints the format to set only when the line looks like another one', () => {
    expect(formatHint(AVAZU_HEADER, 'criteo')).to.contain('set data.format: avazu');
    expect(formatHint(criteoRow, 'avazu')).to.contain('set data.format: criteo');
    expect(formatHint(criteoRow, 'criteo')).to.equal('');
    expect(formatHint('a,b,c', 'criteo')).to.contain('look like CSV');
    expect(formatHint(undefined, 'criteo')).to.equal('');
  });

  it('turns a missing file into BAD_DATA naming it, and leaves other errors alone', () => {
    const enoent = Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT', path: '/nope' });
    const bad = asDataError(enoent, '/nope');
    expect(bad?.code).to.equal(ERROR_CODES.BAD_DATA);
    expect(bad?.message).to.contain('/nope: no such file (ENOENT)');
    expect(asDataError(new TesseraError(ERROR_CODES.UNAVAILABLE, 'ps down'), '/x')).to.equal(undefined);
    expect(asDataError(Object.assign(new Error('reset'), { code: 'ECONNRESET' }), '/x')).to.equal(undefined);
  });
});
