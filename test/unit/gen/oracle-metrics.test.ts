import { expect } from 'chai';
import { logLoss, rocAuc } from '../../../src/gen/oracle-metrics';
import { Xoshiro128 } from '../../../src/gen/rng';

/** O(n²) definition: P(score⁺ > score⁻) + ½ P(tie). */
function bruteAuc(scores: number[], labels: number[]): number {
  let num = 0;
  let pairs = 0;
  for (let i = 0; i < scores.length; i++) {
    if (labels[i] !== 1) continue;
    for (let j = 0; j < scores.length; j++) {
      if (labels[j] !== 0) continue;
      pairs++;
      num += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0;
    }
  }
  return num / pairs;
}

describe('gen/oracle-metrics', () => {
  it('computes the textbook AUC examples', () => {
    expect(rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).to.equal(0.75);
    expect(rocAuc([1, 2, 3, 4], [0, 0, 1, 1])).to.equal(1);
    expect(rocAuc([1, 2, 3, 4], [1, 1, 0, 0])).to.equal(0);
    expect(rocAuc([5, 5, 5, 5], [0, 1, 0, 1])).to.equal(0.5); // all tied
    expect(rocAuc([1, 2], [1, 1])).to.be.NaN; // one class only
  });

  it('equals the pairwise definition on random scores with many ties', () => {
    const rng = new Xoshiro128(4);
    for (let trial = 0; trial < 20; trial++) {
      const n = 50 + (rng.nextU32() % 200);
      const scores = Array.from({ length: n }, () => rng.nextU32() % 7); // heavy ties
      const labels = scores.map((s) => (rng.nextFloat() < 0.2 + s / 10 ? 1 : 0));
      expect(rocAuc(scores, labels)).to.be.closeTo(bruteAuc(scores, labels), 1e-12);
    }
  });

  it('reads only the first n entries, and rejects NaN scores', () => {
    expect(rocAuc([0, 1, 99, 99], [0, 1, 0, 0], 2)).to.equal(1);
    expect(() => rocAuc([NaN, 1], [0, 1])).to.throw(RangeError);
  });

  it('computes log loss with clamping', () => {
    expect(logLoss([0.5, 0.5], [0, 1])).to.be.closeTo(Math.LN2, 1e-15);
    expect(logLoss([0.9, 0.2], [1, 0])).to.be.closeTo(-(Math.log(0.9) + Math.log(0.8)) / 2, 1e-15);
    expect(Number.isFinite(logLoss([0, 1], [1, 0]))).to.equal(true);
  });
});
