import { expect } from 'chai';
import { ERROR_CODES } from '../../../src/common/errors';
import { EvalAccumulator, auc, calibration, logLoss } from '../../../src/eval/metrics';
import { Rng } from '../sharding/rng';

/** O(n²) definition: P(score+ > score-) + ½ P(score+ = score-) over all (positive, negative) pairs. */
function pairwiseAuc(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  let wins = 0;
  let pairs = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== 1) continue;
    for (let j = 0; j < labels.length; j++) {
      if (labels[j] !== 0) continue;
      pairs++;
      if (scores[i] > scores[j]) wins += 1;
      else if (scores[i] === scores[j]) wins += 0.5;
    }
  }
  return wins / pairs;
}

function expectCode(fn: () => unknown, code: string, text: string): void {
  expect(fn).to.throw(text).with.property('code', code);
}

describe('eval/metrics', () => {
  describe('auc', () => {
    it('is 1 for a perfect ranking, 0 for an inverted one, 0.5 when every score ties', () => {
      expect(auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.9])).to.equal(1);
      expect(auc([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.9])).to.equal(0);
      expect(auc([0, 1, 0, 1, 1], [0.4, 0.4, 0.4, 0.4, 0.4])).to.equal(0.5);
    });

    it('matches hand-computed values', () => {
      // positives 0.35, 0.8 vs negatives 0.1, 0.4: 0.35 beats 1 of 2, 0.8 beats 2 of 2 → 3/4.
      expect(auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).to.equal(0.75);
      // Ties across classes. Positives {0.5, 0.5, 0.9}, negatives {0.1, 0.5, 0.7}.
      // 0.5 vs: 0.1 win, 0.5 tie, 0.7 loss → 1.5 (twice); 0.9 beats all 3 → 3. U = 6, pairs = 9.
      // Midranks: 0.1→1, 0.5×3→3, 0.7→5, 0.9→6; R+ = 3+3+6 = 12; U = 12 − 3·4/2 = 6.
      expect(auc([1, 0, 1, 0, 1, 0], [0.5, 0.1, 0.5, 0.5, 0.9, 0.7])).to.equal(6 / 9);
    });

    it('does not depend on input order within ties', () => {
      const a = auc([1, 0, 1, 0], [0.3, 0.3, 0.3, 0.3]);
      const b = auc([0, 0, 1, 1], [0.3, 0.3, 0.3, 0.3]);
      expect(a).to.equal(0.5);
      expect(b).to.equal(0.5);
    });

    it('equals the O(n²) pairwise definition on random data with many ties', () => {
      const rng = new Rng(42);
      for (const [n, levels] of [[50, 3], [400, 10], [1500, 40], [2000, 1000]]) {
        const labels = new Float32Array(n);
        const scores = new Float32Array(n);
        for (let i = 0; i < n; i++) {
          labels[i] = rng.int(4) === 0 ? 1 : 0;
          // Scores quantised to `levels` values and mildly informative, so ties cross classes.
          scores[i] = Math.min(levels - 1, rng.int(levels) + labels[i] * rng.int(3)) / levels;
        }
        const want = pairwiseAuc(labels, scores);
        expect(auc(labels, scores), `n=${n} levels=${levels}`).to.be.closeTo(want, 1e-12);
      }
    });

    it('handles -0 and +0 as one tie and ±Infinity scores', () => {
      expect(auc([1, 0], [-0, 0])).to.equal(0.5);
      // +Inf beats both negatives (2); 0 beats -Inf and ties 0 (1.5) → 3.5 / 4.
      expect(auc([1, 0, 1, 0], [Infinity, -Infinity, 0, 0])).to.equal(0.875);
    });

    it('is NaN with only one class or no rows', () => {
      expect(auc([1, 1, 1], [0.1, 0.2, 0.3])).to.be.NaN;
      expect(auc([0, 0], [0.1, 0.2])).to.be.NaN;
      expect(auc([], [])).to.be.NaN;
    });

    it('rejects mismatched lengths, non-binary labels and NaN scores', () => {
      expectCode(() => auc([0, 1], [0.5]), ERROR_CODES.INVALID_ARGUMENT, 'differ in length');
      expectCode(() => auc([0, 0.5], [0.1, 0.2]), ERROR_CODES.INVALID_ARGUMENT, 'label #1 must be 0 or 1');
      expectCode(() => auc([0, 1], [0.1, NaN]), ERROR_CODES.INVALID_ARGUMENT, 'score #1 is NaN');
    });
  });

  describe('logLoss', () => {
    it('matches hand-computed values', () => {
      expect(logLoss([1, 0], [0.9, 0.2])).to.be.closeTo((-Math.log(0.9) - Math.log(0.8)) / 2, 1e-15);
      expect(logLoss([1], [0.5])).to.be.closeTo(Math.LN2, 1e-15);
      expect(logLoss([1, 1, 0, 0], [0.5, 0.5, 0.5, 0.5])).to.be.closeTo(Math.LN2, 1e-15);
      // soft label 0.3 at p = 0.6: −(0.3 ln 0.6 + 0.7 ln 0.4)
      expect(logLoss([0.3], [0.6])).to.be.closeTo(-(0.3 * Math.log(0.6) + 0.7 * Math.log(0.4)), 1e-15);
    });

    it('clips predictions to [eps, 1 − eps]', () => {
      expect(logLoss([1], [0])).to.be.closeTo(-Math.log(1e-7), 1e-12);
      expect(logLoss([0], [1])).to.be.closeTo(-Math.log(1e-7), 1e-6);
      expect(logLoss([1], [0], 1e-3)).to.be.closeTo(-Math.log(1e-3), 1e-12);
      expect(logLoss([1, 0], [1, 0])).to.be.closeTo(-Math.log(1 - 1e-7), 1e-15);
      expect(logLoss([1], [1.5])).to.equal(logLoss([1], [1]));
    });

    it('is NaN for no rows and rejects bad input', () => {
      expect(logLoss([], [])).to.be.NaN;
      expectCode(() => logLoss([2], [0.5]), ERROR_CODES.INVALID_ARGUMENT, 'label #0 must be in [0, 1]');
      expectCode(() => logLoss([1], [NaN]), ERROR_CODES.INVALID_ARGUMENT, 'prediction #0 is NaN');
      expectCode(() => logLoss([1], [0.5], 0), ERROR_CODES.INVALID_ARGUMENT, 'eps must be in (0, 0.5)');
    });
  });

  describe('calibration', () => {
    it('is mean prediction over mean label', () => {
      expect(calibration([1, 0, 0, 0], [0.5, 0.1, 0.1, 0.1])).to.be.closeTo(0.8, 1e-15);
      expect(calibration([1, 1], [0.5, 0.5])).to.equal(0.5);
      expect(calibration([0, 0], [0.5, 0.5])).to.be.NaN;
    });
  });

  describe('EvalAccumulator', () => {
    it('equals the one-shot metrics over all batches, across buffer growth', () => {
      const rng = new Rng(7);
      const acc = new EvalAccumulator();
      const labels: number[] = [];
      const probs: number[] = [];
      for (let b = 0; b < 9; b++) {
        const size = 1 + rng.int(700); // crosses the initial 1024-row capacity several times
        const y = new Float32Array(size);
        const p = new Float32Array(size);
        for (let i = 0; i < size; i++) {
          y[i] = rng.int(3) === 0 ? 1 : 0;
          p[i] = Math.min(1, (rng.int(50) + 25 * y[i]) / 75);
        }
        acc.add(y, p);
        labels.push(...y);
        probs.push(...p);
      }
      const r = acc.result();
      expect(r.rows).to.equal(labels.length).and.equal(acc.rows);
      expect(r.positives).to.equal(labels.filter((y) => y === 1).length);
      expect(r.auc).to.equal(auc(labels, probs));
      expect(r.auc).to.be.closeTo(pairwiseAuc(labels, probs), 1e-12);
      expect(r.logloss).to.be.closeTo(logLoss(labels, probs), 1e-12);
      expect(r.calibration).to.be.closeTo(calibration(labels, probs), 1e-12);
    });

    it('reports NaN metrics when empty, and reset() forgets rows', () => {
      const acc = new EvalAccumulator();
      expect(acc.result()).to.deep.equal({ auc: NaN, logloss: NaN, calibration: NaN, rows: 0, positives: 0 });
      acc.add([1, 0], [0.9, 0.2]);
      expect(acc.result().auc).to.equal(1);
      acc.reset();
      expect(acc.result().rows).to.equal(0);
      acc.add([0, 1], [0.9, 0.2]);
      expect(acc.result().auc).to.equal(0);
    });

    it('rejects a bad batch without storing any of it', () => {
      const acc = new EvalAccumulator();
      acc.add([1, 0], [0.7, 0.3]);
      expectCode(() => acc.add([0, 1, 0.5], [0.1, 0.2, 0.3]), ERROR_CODES.INVALID_ARGUMENT, 'label #2 must be 0 or 1');
      expectCode(() => acc.add([0, 1], [0.1, NaN]), ERROR_CODES.INVALID_ARGUMENT, 'prediction #1 is NaN');
      expectCode(() => acc.add([0, 1], [0.1]), ERROR_CODES.INVALID_ARGUMENT, 'differ in length');
      expect(acc.result()).to.include({ rows: 2, positives: 1, auc: 1 });
    });
  });
});
