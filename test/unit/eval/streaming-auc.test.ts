/**
 * Issue 14: StreamingAuc, the fixed-memory AUC (with a DeLong 95% interval), LogLoss and
 * calibration that serving keeps per model version and sliced evaluation keeps per slice.
 */
import { expect } from 'chai';
import { ERROR_CODES } from '../../../src/common/errors';
import { mulberry32Unit } from '../../../src/common/mulberry32';
import { auc, calibration, logLoss } from '../../../src/eval/metrics';
import { StreamingAuc } from '../../../src/eval/streaming-auc';

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/** Standard normal draws (Box–Muller over a seeded uniform generator). */
function normals(seed: number): () => number {
  const u = mulberry32Unit(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

/**
 * Binormal CTR-like data: logits N(base, 1) for negatives and N(base + shift, 1) for positives,
 * so the true AUC is Φ(shift / √2) whatever `base` is.
 */
function binormal(seed: number, positives: number, negatives: number, shift: number, base = -3): { labels: number[]; probs: number[] } {
  const z = normals(seed);
  const labels: number[] = [];
  const probs: number[] = [];
  for (let i = 0; i < positives + negatives; i++) {
    const y = i < positives ? 1 : 0;
    labels.push(y);
    probs.push(sigmoid(base + y * shift + z()));
  }
  return { labels, probs };
}

function filled(labels: number[], probs: number[], opts: { bins?: number } = {}): StreamingAuc {
  const s = new StreamingAuc(opts);
  labels.forEach((y, i) => s.add(probs[i], y));
  return s;
}

function expectCode(fn: () => unknown, text: string): void {
  expect(fn).to.throw(text).with.property('code', ERROR_CODES.INVALID_ARGUMENT);
}

describe('eval/StreamingAuc (issue 14)', () => {
  it('matches hand-computed AUC, LogLoss and calibration on a small case', () => {
    const labels = [0, 0, 1, 1];
    const probs = [0.1, 0.4, 0.35, 0.8];
    const s = filled(labels, probs);
    expect(s.auc()).to.equal(0.75); // 3 of the 4 (positive, negative) pairs ordered right
    expect(s.maxAucError()).to.equal(0); // no bin holds both classes
    expect(s.logloss()).to.be.closeTo(logLoss(labels, probs), 1e-12);
    expect(s.calibration()).to.be.closeTo((0.1 + 0.4 + 0.35 + 0.8) / 2, 1e-12);
    expect(s.count).to.equal(4);
    expect(s.positives).to.equal(2);
  });

  it('counts a tie as one half, and its error bound covers a tie the bins created', () => {
    const tie = filled([1, 0], [0.5, 0.5]);
    expect(tie.auc()).to.equal(0.5);
    expect(tie.maxAucError()).to.equal(0.5);
    // Exact AUC 1 (the positive is higher), but both land in one bin: the binned 0.5 is off by
    // exactly the stated bound.
    const close = filled([1, 0], [0.500001, 0.5]);
    expect(auc([1, 0], [0.500001, 0.5])).to.equal(1);
    expect(close.auc()).to.equal(0.5);
    expect(Math.abs(close.auc() - 1)).to.be.at.most(close.maxAucError());
  });

  it('reports NaN (null in JSON) while empty or with one class, and [0, 1] with fewer than two of a class', () => {
    const s = new StreamingAuc();
    expect([s.auc(), s.logloss(), s.calibration(), s.maxAucError()].every(Number.isNaN)).to.equal(true);
    expect(s.aucCi95().every(Number.isNaN)).to.equal(true);
    expect(JSON.parse(JSON.stringify(s.summary()))).to.include({ count: 0, auc: null, logloss: null });
    s.add(0.2, 0);
    s.add(0.3, 0);
    expect(s.auc()).to.be.NaN;
    expect(s.logloss()).to.be.closeTo(logLoss([0, 0], [0.2, 0.3]), 1e-12);
    s.add(0.9, 1);
    expect(s.auc()).to.equal(1);
    expect(s.aucCi95()).to.deep.equal([0, 1]);
  });

  it('is within 1e-3 of the exact AUC on random data, and within its own stated bound', () => {
    for (const [seed, shift, base] of [[1, 1.2, -3], [2, 0.5, -1], [3, 2, -4.5], [4, 0.1, 0]]) {
      const { labels, probs } = binormal(seed, 3000, 17000, shift, base);
      const s = filled(labels, probs);
      const exact = auc(labels, probs);
      const err = Math.abs(s.auc() - exact);
      expect(err, `seed ${seed}`).to.be.below(1e-3);
      expect(err, `seed ${seed}`).to.be.at.most(s.maxAucError());
      expect(s.logloss()).to.be.closeTo(logLoss(labels, probs), 1e-9);
      expect(s.calibration()).to.be.closeTo(calibration(labels, probs), 1e-9);
    }
  });

  it('puts predictions of exactly 0 and 1, and any beyond logit ±16, in the end bins (ties there, within the bound)', () => {
    const labels = [0, 1, 1, 0];
    const probs = [0, 1e-12, 1, 1 - 1e-12];
    const s = filled(labels, probs);
    expect(auc(labels, probs)).to.equal(0.75);
    // 1e-12 ties 0 in the first bin and 1 ties 1 − 1e-12 in the last: (½ + 0 + 1 + ½) / 4.
    expect(s.auc()).to.equal(0.5);
    expect(s.maxAucError()).to.equal(0.25);
  });

  it('covers the true AUC with its 95% interval in about 95% of seeded trials', () => {
    const shift = Math.SQRT2; // true AUC = Φ(1)
    const trueAuc = 0.8413447460685429;
    const trials = 400;
    let covered = 0;
    let width = 0;
    for (let t = 0; t < trials; t++) {
      const { labels, probs } = binormal(1000 + t, 100, 300, shift);
      const [lo, hi] = filled(labels, probs).aucCi95();
      if (lo <= trueAuc && trueAuc <= hi) covered++;
      width += hi - lo;
    }
    expect(covered / trials).to.be.within(0.92, 0.975);
    // An interval that always covers by being wide would pass the line above: the DeLong width
    // at 100 + 300 rows and AUC 0.84 is about 0.09.
    expect(width / trials).to.be.within(0.07, 0.11);
  });

  it('merges exactly: two halves merged equal the whole stream', () => {
    const { labels, probs } = binormal(7, 500, 2500, 1);
    const whole = filled(labels, probs);
    const a = filled(labels.slice(0, 1200), probs.slice(0, 1200));
    const b = filled(labels.slice(1200), probs.slice(1200));
    a.merge(b);
    expect(a.count).to.equal(whole.count);
    expect(a.auc()).to.equal(whole.auc());
    expect(a.aucCi95()).to.deep.equal(whole.aucCi95());
    expect(a.logloss()).to.be.closeTo(whole.logloss(), 1e-12);
    expect(() => a.merge(new StreamingAuc({ bins: 64 }))).to.throw('cannot merge a StreamingAuc of 64 bins into one of 16384');
  });

  it('treats a weight as that many copies of the row', () => {
    const weighted = new StreamingAuc();
    const copies = new StreamingAuc();
    for (const [p, y, w] of [[0.2, 0, 3], [0.6, 1, 2], [0.4, 0, 1], [0.3, 1, 4]]) {
      weighted.add(p, y, w);
      for (let i = 0; i < w; i++) copies.add(p, y);
    }
    const [w, c] = [weighted.summary(), copies.summary()];
    expect({ ...w, calibration: 0, logloss: 0 }).to.deep.equal({ ...c, calibration: 0, logloss: 0 });
    expect(w.calibration).to.be.closeTo(c.calibration, 1e-12);
    expect(w.logloss).to.be.closeTo(c.logloss, 1e-12);
  });

  it('survives a JSON round trip, and refuses a state that is not one, naming the field', () => {
    const { labels, probs } = binormal(9, 300, 700, 1);
    const s = filled(labels, probs, { bins: 1024 });
    const back = StreamingAuc.fromJSON(JSON.parse(JSON.stringify(s)));
    expect(back.bins).to.equal(1024);
    expect(back.summary()).to.deep.equal(s.summary());
    const state = s.toJSON();
    expectCode(() => StreamingAuc.fromJSON({ ...state, format: 'x' }), 'format must be "tessera-streaming-auc/1"');
    expectCode(() => StreamingAuc.fromJSON({ ...state, pos: [1024, 1] }), 'pos bin 1024 is outside [0, 1024)');
    expectCode(() => StreamingAuc.fromJSON({ ...state, neg: [3, -1] }), 'neg weight of bin 3 must be a finite number >= 0');
    expectCode(() => StreamingAuc.fromJSON({ ...state, lossSum: 'a' }), 'lossSum must be a finite number >= 0');
    expectCode(() => StreamingAuc.fromJSON({ ...state, bins: 1 }), 'bins must be an integer in [2, 1048576] (got 1)');
  });

  it('refuses a bad row naming the value, and keeps its state', () => {
    const s = filled([1, 0], [0.7, 0.2]);
    const before = s.summary();
    expectCode(() => s.add(Number.NaN, 1), 'prediction must be a number in [0, 1] (got NaN)');
    expectCode(() => s.add(1.5, 1), 'prediction must be a number in [0, 1] (got 1.5)');
    expectCode(() => s.add(0.5, 2), 'label must be 0 or 1 (got 2)');
    expectCode(() => s.add(0.5, 1, -1), 'weight must be a finite number >= 0 (got -1)');
    expect(s.summary()).to.deep.equal(before);
  });
});
