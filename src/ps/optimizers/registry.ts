/**
 * The table of optimizer descriptors. Everything that needs to know which optimizers exist and
 * what their keys are (validation here, the job spec's YAML keys, the wire's and the checkpoint
 * manifest's `{kind, params}` value, `tessera plan`) reads it, so adding an optimizer is one
 * module with its descriptor plus one entry below.
 */
import { ADAGRAD } from './adagrad';
import { ADAM } from './adam';
import { badConfig, checkKeys, checkNumber, checkObject } from './config-check';
import { FTRL } from './ftrl';
import { withGradientClip } from './gradient-clip';
import { withL2Reg } from './l2-reg';
import type { FilledOptimizerConfig, Optimizer, OptimizerConfig, OptimizerDescriptor, OptimizerKind } from './optimizer';
import { SGD } from './sgd';

/** The common keys every optimizer takes besides its own: `clip_norm`, then `l2_reg`. */
function withCommonKeys(d: OptimizerDescriptor): OptimizerDescriptor {
  return withL2Reg(withGradientClip(d));
}

/** Every optimizer this build can create, by kind, each with the common `clip_norm` and `l2_reg` keys. */
export const OPTIMIZERS: Readonly<Record<OptimizerKind, OptimizerDescriptor>> = Object.freeze({
  sgd: withCommonKeys(SGD as OptimizerDescriptor),
  adagrad: withCommonKeys(ADAGRAD as OptimizerDescriptor),
  adam: withCommonKeys(ADAM as OptimizerDescriptor),
  ftrl: withCommonKeys(FTRL as OptimizerDescriptor),
});

/** Every optimizer kind this build can create. */
export const OPTIMIZER_KINDS: readonly OptimizerKind[] = Object.freeze(Object.keys(OPTIMIZERS) as OptimizerKind[]);

/**
 * The descriptor of optimizer `kind`; INVALID_ARGUMENT naming `${key}.kind` when there is none.
 *
 * ```ts
 * optimizerDescriptor('adam').stateWidth(16); // 34
 * ```
 */
export function optimizerDescriptor(kind: unknown, key = 'optimizer'): OptimizerDescriptor {
  if (typeof kind !== 'string' || !Object.prototype.hasOwnProperty.call(OPTIMIZERS, kind)) {
    return badConfig(`${key}.kind`, `must be one of ${OPTIMIZER_KINDS.join(', ')}`, kind);
  }
  return OPTIMIZERS[kind as OptimizerKind];
}

/**
 * Validates an optimizer config (typically straight from a table spec or the wire) and builds the
 * optimizer. Errors are TESSERA_ERR_INVALID_ARGUMENT whose message starts with the offending key,
 * e.g. `optimizer.lr must be > 0 (got 0)`. Unknown keys are rejected so a typo such as `beta_1`
 * does not silently fall back to a default; a key set to `undefined` counts as absent.
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
  const d = optimizerDescriptor(o.kind, key);
  checkKeys(key, o, ['kind', ...d.params.map((p) => p.key)]);
  const full: Record<string, unknown> = { kind: d.kind };
  for (const p of d.params) {
    if (p.optional && o[p.key] === undefined) continue;
    full[p.key] = checkNumber(`${key}.${p.key}`, o[p.key], p.bounds, p.default);
  }
  const valid = full as unknown as FilledOptimizerConfig;
  d.check?.(valid, key);
  return d.create(valid);
}
