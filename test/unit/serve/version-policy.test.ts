/** Issue 14: the version policies of tessera serve, and their refusals naming the text. */
import { expect } from 'chai';
import { formatVersionPolicy, parseVersionPolicy, policyVersions } from '../../../src/serve/version-policy';

describe('serving version policy (issue 14)', () => {
  it('keeps the newest, the N newest, or exactly the versions named that exist', () => {
    const on = [1, 2, 5, 9];
    expect(policyVersions(parseVersionPolicy('latest'), on)).to.deep.equal([9]);
    expect(policyVersions(parseVersionPolicy('latest:3'), on)).to.deep.equal([2, 5, 9]);
    expect(policyVersions(parseVersionPolicy('latest:10'), on)).to.deep.equal(on);
    expect(policyVersions(parseVersionPolicy('specific:9,1,4'), on)).to.deep.equal([1, 9]);
    expect(policyVersions(parseVersionPolicy('latest'), [])).to.deep.equal([]);
    for (const t of ['latest', 'latest:3', 'specific:1,4,9']) expect(formatVersionPolicy(parseVersionPolicy(t))).to.equal(t);
  });

  it('refuses anything else, naming the text and the forms it takes', () => {
    const bad: [string, RegExp][] = [
      ['newest', /unknown policy "newest"/], ['latest:0', /N must be an integer from 1 to 64/], ['latest:x', /N must be/],
      ['specific:', /"" is not a version number/], ['specific:1,02', /"02" is not a version number/], ['latest:1:2', /more than one ":"/],
    ];
    for (const [t, re] of bad) {
      expect(() => parseVersionPolicy(t), t).to.throw(re);
      expect(() => parseVersionPolicy(t), t).to.throw(/expected latest, latest:N or specific:V1,V2/);
    }
  });
});
