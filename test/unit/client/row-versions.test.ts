/**
 * Issue 19 §4: the client's side of push staleness: which steps are sampled, versions moved
 * through dedup and slicing, and staleness computed from the versions a push reports.
 */
import { expect } from 'chai';
import {
  fromDistinct, gatherVersions, stalenessOf, StalenessSampler, stitchVersions, toDistinct, UNKNOWN_VERSION,
} from '../../../src/client/row-versions';
import type { Slice } from '../../../src/sharding/slicer';

describe('client row versions (issue 19)', () => {
  it('samples the first step and then one in N; 0 samples none; a bad rate is one clear error', () => {
    const s = new StalenessSampler(4);
    expect(Array.from({ length: 9 }, () => s.next())).to.deep.equal([true, false, false, false, true, false, false, false, true]);
    const off = new StalenessSampler(0);
    expect(Array.from({ length: 5 }, () => off.next())).to.deep.equal([false, false, false, false, false]);
    const every = new StalenessSampler(1);
    expect([every.next(), every.next()]).to.deep.equal([true, true]);
    expect(() => new StalenessSampler(-1)).to.throw('stalenessSampleEvery: must be a non-negative integer (0 = off), got -1');
    expect(() => new StalenessSampler(1.5)).to.throw(/stalenessSampleEvery/);
  });

  it('staleness is the version before the push minus the version read, per row', () => {
    expect(Array.from(stalenessOf(Uint32Array.of(3, 0, 7), Uint32Array.of(5, 0, 7)))).to.deep.equal([2, 0, 0]);
    // Modulo 2^32: a version that wrapped between the pull and the push still counts right.
    expect(Array.from(stalenessOf(Uint32Array.of(0xfffffffe), Uint32Array.of(1)))).to.deep.equal([3]);
  });

  it('leaves out rows it cannot measure: unknown reads, a push without versions, a row created again', () => {
    expect(Array.from(stalenessOf(Uint32Array.of(UNKNOWN_VERSION, 1), Uint32Array.of(4, 2)))).to.deep.equal([1]);
    expect(stalenessOf(Uint32Array.of(1, 2), null).length).to.equal(0);
    expect(stalenessOf(Uint32Array.of(1, 2), Uint32Array.of(3)).length, 'wrong length').to.equal(0);
    // Version went back from 9 to 2: the row was evicted (or restored) and counted again from 0.
    expect(Array.from(stalenessOf(Uint32Array.of(9, 1), Uint32Array.of(2, 1)))).to.deep.equal([0]);
  });

  it('moves versions between caller order and distinct ids, and between batch and slice order', () => {
    const inverse = Uint32Array.of(0, 1, 0, 2); // ids a b a c
    const distinct = toDistinct(Uint32Array.of(5, 6, 5, 7), inverse, 3);
    expect(Array.from(distinct)).to.deep.equal([5, 6, 7]);
    const out = new Uint32Array(4);
    fromDistinct(distinct, inverse, out);
    expect(Array.from(out)).to.deep.equal([5, 6, 5, 7]);

    const slice: Slice = { psIndex: 1, ids: new Uint32Array(6), positions: Uint32Array.of(0, 2, 3) };
    expect(Array.from(gatherVersions(slice, Uint32Array.of(10, 11, 12, 13), 1, 3))).to.deep.equal([12, 13]);
    const back = new Uint32Array(4);
    stitchVersions(slice, Uint32Array.of(20, 22), back, 0, 2);
    stitchVersions(slice, null, back, 2, 3); // a PS that did not report versions
    expect(Array.from(back)).to.deep.equal([20, 0, 22, UNKNOWN_VERSION]);
  });
});
