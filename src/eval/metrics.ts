/**
 * Offline CTR evaluation metrics: exact AUC, log loss and calibration, plus a streaming
 * accumulator that collects a whole evaluation pass and computes all three at the end.
 *
 * Labels are binary clicks: `auc` requires every label to be exactly 0 or 1, `logLoss` and
 * `calibration` accept any label in [0, 1]. Every input error is TESSERA_ERR_INVALID_ARGUMENT.
 */
import { ERROR_CODES, TesseraError } from '../common/errors';

/** Default probability clip of `logLoss`: predictions are clipped to [eps, 1 - eps]. */
export const LOG_LOSS_EPS = 1e-7;

function invalid(message: string): never {
  throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, message);
}

/** Throws unless both arrays have the same length; returns it. */
function sameLength(labels: ArrayLike<number>, values: ArrayLike<number>, what: string): number {
  if (labels.length !== values.length) {
    invalid(`labels and ${what} differ in length (${labels.length} vs ${values.length})`);
  }
  return labels.length;
}

/**
 * Exact ROC AUC: the probability that a random positive scores above a random negative, ties
 * counting one half. This is the Mann–Whitney U statistic with average ranks for ties, divided by
 * `positives × negatives`.
 *
 * Method: the scores of positives and of negatives are copied into two Float64Arrays and each is
 * sorted natively (no comparator, about 4× faster than an index sort on millions of rows); one
 * merge walk then counts, for each run of equal positive scores, the negatives strictly below and
 * the negatives equal to it. `U = Σ (below + equal / 2)` equals the midrank formula
 * `R+ − n+(n+ + 1)/2` exactly. Every partial sum is a multiple of 0.5 below 2^52, so the result is
 * exact in float64 up to ~9.5e7 rows.
 *
 * ```ts
 * auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]); // 0.75
 * ```
 *
 * @returns NaN when all labels belong to one class (AUC is undefined there).
 * @throws TesseraError INVALID_ARGUMENT when lengths differ, a label is not 0 or 1, or a score is
 *   NaN.
 */
export function auc(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  const n = sameLength(labels, scores, 'scores');
  let positives = 0;
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (y !== 0 && y !== 1) invalid(`auc: label #${i} must be 0 or 1 (got ${y})`);
    if (Number.isNaN(scores[i])) invalid(`auc: score #${i} is NaN`);
    positives += y;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return NaN;
  const pos = new Float64Array(positives);
  const neg = new Float64Array(negatives);
  for (let i = 0, a = 0, b = 0; i < n; i++) {
    if (labels[i] === 1) pos[a++] = scores[i];
    else neg[b++] = scores[i];
  }
  pos.sort();
  neg.sort();
  return mannWhitneyU(pos, neg) / (positives * negatives);
}

/** Σ over positives of (#negatives below + #negatives equal / 2); both inputs sorted ascending. */
function mannWhitneyU(pos: Float64Array, neg: Float64Array): number {
  let u = 0;
  let below = 0; // negatives < v
  for (let i = 0; i < pos.length;) {
    const v = pos[i];
    let end = i + 1;
    while (end < pos.length && pos[end] === v) end++;
    while (below < neg.length && neg[below] < v) below++;
    let upTo = below; // negatives <= v
    while (upTo < neg.length && neg[upTo] === v) upTo++;
    u += (end - i) * (below + (upTo - below) / 2);
    i = end;
  }
  return u;
}

/**
 * Mean binary cross-entropy `-(y·ln p + (1-y)·ln(1-p))` with each prediction clipped to
 * `[eps, 1 - eps]` first, so a confident wrong prediction costs at most `-ln(eps)` (≈ 16.1 for
 * the default 1e-7) instead of Infinity.
 *
 * ```ts
 * logLoss([1, 0], [0.9, 0.2]); // (-ln 0.9 - ln 0.8) / 2 ≈ 0.164252
 * ```
 *
 * @returns NaN for empty input.
 * @throws TesseraError INVALID_ARGUMENT when lengths differ, a label is outside [0, 1], a
 *   prediction is NaN, or `eps` is not in (0, 0.5).
 */
export function logLoss(labels: ArrayLike<number>, probs: ArrayLike<number>, eps = LOG_LOSS_EPS): number {
  const n = sameLength(labels, probs, 'probs');
  checkEps(eps);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += lossTerm(labels[i], probs[i], eps, i);
  return n === 0 ? NaN : sum / n;
}

/** Throws INVALID_ARGUMENT unless `eps` is a usable log-loss clip, in (0, 0.5). */
export function checkEps(eps: number): void {
  if (!(eps > 0 && eps < 0.5)) invalid(`logLoss: eps must be in (0, 0.5) (got ${eps})`);
}

/**
 * One row's cross-entropy with the prediction clipped to `[eps, 1 - eps]` (the term `logLoss`
 * averages); `i` names the row in the error.
 * @throws TesseraError INVALID_ARGUMENT when the label is outside [0, 1] or the prediction is NaN.
 */
export function lossTerm(y: number, p: number, eps: number, i: number): number {
  if (!(y >= 0 && y <= 1)) invalid(`label #${i} must be in [0, 1] (got ${y})`);
  if (Number.isNaN(p)) invalid(`prediction #${i} is NaN`);
  const q = p < eps ? eps : p > 1 - eps ? 1 - eps : p;
  // Skip a zero-weight term so 0 · ln(q) never meets a q that rounded to 0 or 1.
  return (y > 0 ? -y * Math.log(q) : 0) + (y < 1 ? -(1 - y) * Math.log(1 - q) : 0);
}

/**
 * Calibration: mean prediction divided by mean label (= Σp / Σy). 1 is perfectly calibrated,
 * above 1 over-predicts clicks.
 *
 * ```ts
 * calibration([1, 0, 0, 0], [0.5, 0.1, 0.1, 0.1]); // Σp / Σy = 0.8 / 1 ≈ 0.8
 * ```
 *
 * @returns NaN when there are no positives (or no rows).
 * @throws TesseraError INVALID_ARGUMENT when lengths differ.
 */
export function calibration(labels: ArrayLike<number>, probs: ArrayLike<number>): number {
  const n = sameLength(labels, probs, 'probs');
  let sumY = 0;
  let sumP = 0;
  for (let i = 0; i < n; i++) {
    sumY += labels[i];
    sumP += probs[i];
  }
  return sumY > 0 ? sumP / sumY : NaN;
}

/** What `EvalAccumulator.result()` reports. */
export interface EvalResult {
  /** exact AUC (NaN when only one class was seen) */
  auc: number;
  /** mean clipped log loss (NaN with no rows) */
  logloss: number;
  /** mean prediction / mean label (NaN with no positives) */
  calibration: number;
  /** rows added */
  rows: number;
  /** rows with label 1 */
  positives: number;
}

const INITIAL_CAPACITY = 1024;

/**
 * Collects (label, prediction) pairs batch by batch and computes the metrics of the whole pass.
 * Labels are stored in a growable Uint8Array and predictions in a growable Float64Array (9 bytes a
 * row: a 6.5M-row Criteo test day takes about 60 MB); log loss and calibration sums are kept
 * running so `result()` only has to sort for AUC.
 *
 * ```ts
 * const acc = new EvalAccumulator();
 * for (const batch of evalBatches) acc.add(batch.labels, await model.predict(params, batch));
 * const { auc, logloss, calibration } = acc.result();
 * ```
 */
export class EvalAccumulator {
  private labels = new Uint8Array(INITIAL_CAPACITY);
  private probs = new Float64Array(INITIAL_CAPACITY);
  private n = 0;
  private positives = 0;
  private lossSum = 0;
  private probSum = 0;

  /** @param eps log-loss clip (see `logLoss`) */
  constructor(private readonly eps = LOG_LOSS_EPS) {
    checkEps(eps);
  }

  /** Rows added so far. */
  get rows(): number {
    return this.n;
  }

  /**
   * Appends one batch. The batch is validated before anything is stored, so a rejected batch
   * leaves the accumulator unchanged.
   * @throws TesseraError INVALID_ARGUMENT when lengths differ, a label is not 0 or 1, or a
   *   prediction is NaN.
   */
  add(labels: ArrayLike<number>, probs: ArrayLike<number>): void {
    const m = sameLength(labels, probs, 'probs');
    let loss = 0;
    let probSum = 0;
    let positives = 0;
    for (let i = 0; i < m; i++) {
      const y = labels[i];
      if (y !== 0 && y !== 1) invalid(`label #${i} must be 0 or 1 (got ${y})`);
      loss += lossTerm(y, probs[i], this.eps, i);
      probSum += probs[i];
      positives += y;
    }
    this.reserve(this.n + m);
    for (let i = 0; i < m; i++) {
      this.labels[this.n + i] = labels[i];
      this.probs[this.n + i] = probs[i];
    }
    this.n += m;
    this.lossSum += loss;
    this.probSum += probSum;
    this.positives += positives;
  }

  /** AUC, log loss and calibration of every row added so far. */
  result(): EvalResult {
    const n = this.n;
    return {
      auc: auc(this.labels.subarray(0, n), this.probs.subarray(0, n)),
      logloss: n === 0 ? NaN : this.lossSum / n,
      calibration: this.positives > 0 ? this.probSum / this.positives : NaN,
      rows: n,
      positives: this.positives,
    };
  }

  /** Forgets every row (keeps the allocated buffers). */
  reset(): void {
    this.n = 0;
    this.positives = 0;
    this.lossSum = 0;
    this.probSum = 0;
  }

  /** Grows both buffers geometrically so appends are amortised O(1). */
  private reserve(rows: number): void {
    if (rows <= this.labels.length) return;
    let cap = this.labels.length;
    while (cap < rows) cap *= 2;
    const labels = new Uint8Array(cap);
    labels.set(this.labels.subarray(0, this.n));
    const probs = new Float64Array(cap);
    probs.set(this.probs.subarray(0, this.n));
    this.labels = labels;
    this.probs = probs;
  }
}
