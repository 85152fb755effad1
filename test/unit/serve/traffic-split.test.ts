/** Issue 14: the canary split: shares as asked, one key always on one side, refusals naming the part. */
import { expect } from 'chai';
import { parseSplit, SplitRouter } from '../../../src/serve/traffic-split';

describe('canary traffic split (issue 14)', () => {
  it('parses and normalises the weights, in order', () => {
    expect(parseSplit('stable=90, canary=10').shares).to.deep.equal([{ label: 'stable', share: 0.9 }, { label: 'canary', share: 0.1 }]);
    expect(parseSplit('a=1,b=1,c=2').shares.map((s) => s.share)).to.deep.equal([0.25, 0.25, 0.5]);
  });

  it('sends each key to one label, every time and from every router, with the shares asked', () => {
    const a = new SplitRouter(parseSplit('stable=90,canary=10'));
    const b = new SplitRouter(parseSplit('stable=90,canary=10'));
    const n = 20_000;
    let canary = 0;
    for (let i = 0; i < n; i++) {
      const label = a.labelOf(`user-${i}`);
      expect(b.labelOf(`user-${i}`)).to.equal(label);
      if (label === 'canary') canary++;
    }
    // Binomial(20000, 0.1): standard deviation 42; 5 sigma either way.
    expect(canary).to.be.within(2000 - 212, 2000 + 212);
    expect(a.position('user-1')).to.equal(b.position('user-1'));
    expect(a.position('user-1')).to.be.within(0, 1);
  });

  it('refuses a malformed split, naming the part', () => {
    const bad: [string, RegExp][] = [
      ['', /expected label=weight/], ['stable', /"stable" is not label=weight/], ['stable=0', /positive weight/],
      ['stable=x', /positive weight/], ['stable=1,stable=2', /label stable is named twice/], ['Stable=1', /label "Stable" must be/],
    ];
    for (const [t, re] of bad) expect(() => parseSplit(t), t).to.throw(re);
  });
});
