import { expect } from 'chai';
import { AUTO_TF_THREADS_CAP, tfThreads } from '../../../src/model/tf-threads';

describe('tfThreads (--tf-threads / TESSERA_TF_THREADS)', () => {
  it('defaults to 1 thread when unset or empty', () => {
    expect(tfThreads(undefined, 8)).to.equal(1);
    expect(tfThreads(' ', 8)).to.equal(1);
  });

  it('auto takes the host\'s cores, at most the cap', () => {
    expect(tfThreads('auto', 2)).to.equal(2);
    expect(tfThreads('auto', 1)).to.equal(1);
    expect(tfThreads('auto', 64)).to.equal(AUTO_TF_THREADS_CAP);
  });

  it('takes an explicit count of 1..8 as given, whatever the host', () => {
    expect(tfThreads('1', 64)).to.equal(1);
    expect(tfThreads(' 8 ', 2)).to.equal(8);
  });

  it('refuses anything else, naming the setting and the value', () => {
    for (const bad of ['0', '9', '-1', '2.5', 'two', '1e1']) {
      expect(() => tfThreads(bad)).to.throw(/TESSERA_TF_THREADS: expected auto or 1\.\.8, got '/);
    }
  });
});
