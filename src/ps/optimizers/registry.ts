import { ADAGRAD_DEFAULT_EPS, ADAGRAD_DEFAULT_INITIAL_ACCUMULATOR, AdagradOptimizer } from './adagrad';
import { ADAM_DEFAULT_BETA1, ADAM_DEFAULT_BETA2, ADAM_DEFAULT_EPS, AdamOptimizer } from './adam';
import { badConfig, checkKeys, checkNumber, checkObject } from './config-check';
import { FTRL_DEFAULT_BETA, FTRL_DEFAULT_INITIAL_ACCUMULATOR, FtrlOptimizer } from './ftrl';
import type { Optimizer, OptimizerConfig, OptimizerKind } from './optimizer';
import { SgdOptimizer } from './sgd';

/** Every optimizer kind this build can create. */
export const OPTIMIZER_KINDS: readonly OptimizerKind[] = ['sgd', 'adagrad', 'adam', 'ftrl'];

/**
 * Validates an optimizer config (typically straight from a table spec or the wire) and builds the
 * optimizer. Errors are TESSERA_ERR_INVALID_ARGUMENT whose message starts with the offending key,
 * e.g. `optimizer.lr must be > 0 (got 0)`. Unknown keys are rejected so a typo such as `beta_1`
 * does not silently fall back to a default.
 *
 * ```ts
 * const opt = createOptimizer({ kind: 'adam', lr: 1e-3 });
 * opt.config; // { kind: 'adam', lr: 0.001, beta1: 0.9, beta2: 0.999, eps: 1e-8 }
 * ```
 *
 * @param cfg the config to validate
 * @param key how to name the config in messages (default `optimizer`)
 */
export function createOptimizer(cfg: OptimizerConfig, key = 'optimizer'): Optimizer {
  const o = checkObject(key, cfg);
  const kind = o.kind;
  switch (kind) {
    case 'sgd':
      checkKeys(key, o, ['kind', 'lr']);
      return new SgdOptimizer({ kind, lr: lr(key, o.lr) });
    case 'adagrad':
      checkKeys(key, o, ['kind', 'lr', 'initialAccumulator', 'eps']);
      return adagrad(key, o);
    case 'adam':
      checkKeys(key, o, ['kind', 'lr', 'beta1', 'beta2', 'eps']);
      return new AdamOptimizer({
        kind,
        lr: lr(key, o.lr),
        beta1: checkNumber(`${key}.beta1`, o.beta1, { min: 0, lt: 1 }, ADAM_DEFAULT_BETA1),
        beta2: checkNumber(`${key}.beta2`, o.beta2, { min: 0, lt: 1 }, ADAM_DEFAULT_BETA2),
        eps: checkNumber(`${key}.eps`, o.eps, { gt: 0 }, ADAM_DEFAULT_EPS),
      });
    case 'ftrl':
      checkKeys(key, o, ['kind', 'alpha', 'beta', 'l1', 'l2', 'initialAccumulator']);
      return ftrl(key, o);
    default:
      return badConfig(`${key}.kind`, `must be one of ${OPTIMIZER_KINDS.join(', ')}`, kind);
  }
}

function lr(key: string, v: unknown): number {
  return checkNumber(`${key}.lr`, v, { gt: 0 });
}

function adagrad(key: string, o: Record<string, unknown>): Optimizer {
  const initialAccumulator = checkNumber(
    `${key}.initialAccumulator`, o.initialAccumulator, { min: 0 }, ADAGRAD_DEFAULT_INITIAL_ACCUMULATOR);
  const eps = checkNumber(`${key}.eps`, o.eps, { min: 0 }, ADAGRAD_DEFAULT_EPS);
  // 0/0 on a zero gradient otherwise.
  if (initialAccumulator === 0 && eps === 0) badConfig(`${key}.eps`, 'must be > 0 when initialAccumulator is 0', eps);
  return new AdagradOptimizer({ kind: 'adagrad', lr: lr(key, o.lr), initialAccumulator, eps });
}

function ftrl(key: string, o: Record<string, unknown>): Optimizer {
  const cfg = {
    kind: 'ftrl' as const,
    alpha: checkNumber(`${key}.alpha`, o.alpha, { gt: 0 }),
    beta: checkNumber(`${key}.beta`, o.beta, { min: 0 }, FTRL_DEFAULT_BETA),
    l1: checkNumber(`${key}.l1`, o.l1, { min: 0 }, 0),
    l2: checkNumber(`${key}.l2`, o.l2, { min: 0 }, 0),
    initialAccumulator: checkNumber(
      `${key}.initialAccumulator`, o.initialAccumulator, { min: 0 }, FTRL_DEFAULT_INITIAL_ACCUMULATOR),
  };
  return new FtrlOptimizer(cfg);
}
