/**
 * Exact ROC AUC and log loss of the teacher's probabilities against the labels it drew. Kept local
 * to src/gen (small and self-contained) so the generator does not depend on the evaluation code.
 */

/** Probabilities are clamped to [EPS, 1 − EPS] in log loss, so a p of exactly 0 or 1 stays finite. */
const LOGLOSS_EPS = 1e-15;

/**
 * Exact ROC AUC: the Mann–Whitney U statistic over (positive, negative) pairs, counting a tied
 * pair as ½ — the same value as the rank-sum formula with average ranks for ties. Positives' and
 * negatives' scores are sorted separately (native typed-array sorts, O(n log n)) and merged.
 * Returns NaN when either class is empty.
 *
 * ```ts
 * rocAuc(new Float64Array([0.1, 0.4, 0.35, 0.8]), new Uint8Array([0, 0, 1, 1])); // 0.75
 * ```
 * @param scores any real scores (higher = more likely positive); NaN is not allowed.
 * @param labels 0/1 labels; only entries below `n` are read.
 */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>, n = scores.length): number {
  let numPos = 0;
  for (let i = 0; i < n; i++) if (labels[i] === 1) numPos++;
  const pos = new Float64Array(numPos);
  const neg = new Float64Array(n - numPos);
  for (let i = 0, p = 0, q = 0; i < n; i++) {
    if (Number.isNaN(scores[i])) throw new RangeError(`score ${i} is NaN`);
    if (labels[i] === 1) pos[p++] = scores[i];
    else neg[q++] = scores[i];
  }
  if (pos.length === 0 || neg.length === 0) return NaN;
  pos.sort();
  neg.sort();
  let u = 0;
  let below = 0; // negatives strictly below the current positive value
  for (let i = 0; i < pos.length; ) {
    const v = pos[i];
    let iEnd = i;
    while (iEnd < pos.length && pos[iEnd] === v) iEnd++;
    while (below < neg.length && neg[below] < v) below++;
    let tieEnd = below;
    while (tieEnd < neg.length && neg[tieEnd] === v) tieEnd++;
    u += (iEnd - i) * (below + 0.5 * (tieEnd - below));
    i = iEnd;
  }
  return u / (pos.length * neg.length);
}

/**
 * Mean binary cross-entropy (natural log) of probabilities against 0/1 labels.
 *
 * ```ts
 * logLoss(new Float64Array([0.5, 0.5]), new Uint8Array([0, 1])); // Math.LN2
 * ```
 */
export function logLoss(probs: ArrayLike<number>, labels: ArrayLike<number>, n = probs.length): number {
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const p = Math.min(1 - LOGLOSS_EPS, Math.max(LOGLOSS_EPS, probs[i]));
    sum -= labels[i] === 1 ? Math.log(p) : Math.log(1 - p);
  }
  return n === 0 ? NaN : sum / n;
}
