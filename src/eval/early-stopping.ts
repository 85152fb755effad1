/**
 * Early stopping on the evaluation metric (`training.early_stop`): training ends after the epoch
 * at which the metric has not improved for `patience` evaluations in a row. A pure function of
 * the evaluations so far, so a standby chief that takes over decides exactly as the one before
 * it would have. The weights are not rolled back: the model saved is the last epoch's, whose
 * figures the job reports; `bestEpoch` says which epoch scored best.
 */

/** Metrics early stopping can watch: AUC (higher is better) or LogLoss (lower is better). */
export const EARLY_STOP_METRICS = ['auc', 'logloss'] as const;
/** One of `EARLY_STOP_METRICS`. */
export type EarlyStopMetric = (typeof EARLY_STOP_METRICS)[number];

/** `training.early_stop`, defaults filled in. */
export interface EarlyStopConfig {
  readonly metric: EarlyStopMetric;
  /** Evaluations without improvement that end training (>= 1). */
  readonly patience: number;
  /** An improvement smaller than this does not count (>= 0). */
  readonly minDelta: number;
}

/** What the evaluations so far say. */
export interface EarlyStopDecision {
  /** End training now (after the latest evaluation). */
  stop: boolean;
  /** 0-based index of the best evaluation so far; -1 with none. */
  bestEpoch: number;
  /** Its metric value (NaN with none). */
  best: number;
}

/**
 * Whether to stop after the latest of `evals` (one per epoch, in order). Non-finite values never
 * count as an improvement.
 *
 * ```ts
 * earlyStopDecision({ metric: 'auc', patience: 2, minDelta: 0 }, [{ auc: 0.70 }, { auc: 0.72 }, { auc: 0.71 }, { auc: 0.715 }]);
 * // { stop: true, bestEpoch: 1, best: 0.72 }
 * ```
 */
export function earlyStopDecision(cfg: EarlyStopConfig, evals: ReadonlyArray<Readonly<Record<EarlyStopMetric, number>>>): EarlyStopDecision {
  const sign = cfg.metric === 'auc' ? 1 : -1;
  let bestEpoch = -1;
  let best = NaN;
  for (let i = 0; i < evals.length; i++) {
    const v = evals[i][cfg.metric];
    if (!Number.isFinite(v)) continue;
    if (bestEpoch < 0 || sign * (v - best) > cfg.minDelta) {
      bestEpoch = i;
      best = v;
    }
  }
  const since = bestEpoch < 0 ? evals.length : evals.length - 1 - bestEpoch;
  return { stop: evals.length > 0 && since >= cfg.patience, bestEpoch, best };
}
