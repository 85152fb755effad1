/** Issue 14: request bodies as Python writes them: bare NaN / Infinity tokens are marked for the field checks, not refused by position. */
import { expect } from 'chai';
import { NON_FINITE_MARK, parseBody } from '../../../src/serve/lenient-json';

describe('lenient JSON bodies (issue 14)', () => {
  it('parses JSON, and marks bare NaN and ±Infinity outside strings only', () => {
    expect(parseBody('{"a": [1, null, "x"]}')).to.deep.equal({ a: [1, null, 'x'] });
    expect(parseBody('{"a": NaN, "b": [Infinity, -Infinity], "s": "NaN \\" Infinity"}')).to.deep.equal({
      a: `${NON_FINITE_MARK}NaN`, b: [`${NON_FINITE_MARK}Infinity`, `${NON_FINITE_MARK}-Infinity`], s: 'NaN " Infinity',
    });
  });

  it('refuses what is not JSON with the parser\'s own message', () => {
    expect(() => parseBody('{"a": 1,}')).to.throw(/^malformed JSON body: /);
    expect(() => parseBody('{"a": NaN,}')).to.throw(/^malformed JSON body: /);
    expect(() => parseBody('nope')).to.throw(/^malformed JSON body: /);
  });
});
