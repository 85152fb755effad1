/** Issue 21, item 3: early stopping on the eval metric (`training.early_stop`). */
import { expect } from 'chai';
import { earlyStopDecision } from '../../../src/eval/early-stopping';

const auc = (...xs: number[]) => xs.map((a) => ({ auc: a, logloss: 1 - a }));

describe('earlyStopDecision (issue 21)', () => {
  it('stops once AUC has not improved for `patience` evaluations, naming the best epoch', () => {
    const cfg = { metric: 'auc' as const, patience: 2, minDelta: 0 };
    expect(earlyStopDecision(cfg, auc(0.70, 0.72, 0.71))).to.deep.equal({ stop: false, bestEpoch: 1, best: 0.72 });
    expect(earlyStopDecision(cfg, auc(0.70, 0.72, 0.71, 0.715))).to.deep.equal({ stop: true, bestEpoch: 1, best: 0.72 });
    expect(earlyStopDecision(cfg, auc(0.70, 0.72, 0.71, 0.73)).stop).to.equal(false);
    expect(earlyStopDecision(cfg, []).stop).to.equal(false);
  });

  it('LogLoss counts a decrease as the improvement', () => {
    const cfg = { metric: 'logloss' as const, patience: 1, minDelta: 0 };
    expect(earlyStopDecision(cfg, auc(0.70, 0.72)).stop, 'logloss 0.30 → 0.28').to.equal(false);
    expect(earlyStopDecision(cfg, auc(0.72, 0.70))).to.deep.equal({ stop: true, bestEpoch: 0, best: 1 - 0.72 });
  });

  it('a gain below min_delta is no improvement; a non-finite value never is', () => {
    const cfg = { metric: 'auc' as const, patience: 1, minDelta: 0.005 };
    expect(earlyStopDecision(cfg, auc(0.70, 0.704)).stop).to.equal(true);
    expect(earlyStopDecision(cfg, auc(0.70, 0.706)).stop).to.equal(false);
    expect(earlyStopDecision({ ...cfg, minDelta: 0 }, auc(NaN, 0.6))).to.deep.equal({ stop: false, bestEpoch: 1, best: 0.6 });
    expect(earlyStopDecision({ ...cfg, minDelta: 0 }, auc(0.6, NaN)).stop).to.equal(true);
  });
});
