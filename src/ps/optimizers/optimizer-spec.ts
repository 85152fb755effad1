/**
 * The optimizer as one self-describing value outside the process: its kind and its
 * hyper-parameters by external name (`{ kind: 'adagrad', params: { lr: 0.05, initial_accumulator: 0 } }`).
 * The wire's `OptimizerSpec` message and the checkpoint manifest carry exactly this, and the job
 * YAML spells the same names beside `kind`. A name that is absent takes the optimizer's default; a
 * name that is present keeps its value, zero included. The names come from the descriptors
 * (registry.ts), so nothing here is per optimizer.
 */
import { badConfig, checkObject } from './config-check';
import type { OptimizerConfig } from './optimizer';
import { optimizerDescriptor } from './registry';

/** An optimizer as the wire and the checkpoint manifest carry it. */
export interface OptimizerSpec {
  kind: string;
  /** hyper-parameters by external name; an absent one takes its default */
  params: Record<string, number>;
}

/**
 * The config whose external spelling is `kind` plus `params` by name. Values are not checked
 * here (`createOptimizer` does that); a name the optimizer does not have is refused, naming
 * `${paramsKey}.${name}`.
 *
 * ```ts
 * configFromNames('adagrad', { lr: 0.05, initial_accumulator: 0 }); // { kind: 'adagrad', lr: 0.05, initialAccumulator: 0 }
 * ```
 *
 * @param key names the optimizer in messages (its kind is `${key}.kind`)
 * @param paramsKey names the object that holds the params (default `key`)
 */
export function configFromNames(kind: unknown, params: Record<string, unknown>, key = 'optimizer', paramsKey = key): OptimizerConfig {
  const d = optimizerDescriptor(kind, key);
  const cfg: Record<string, unknown> = { kind: d.kind };
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined) continue;
    const p = d.params.find((q) => q.name === name);
    if (!p) badConfig(`${paramsKey}.${name}`, `is not a known key; expected one of ${['kind', ...d.params.map((q) => q.name)].join(', ')}`, value);
    cfg[p.key] = value;
  }
  return cfg as unknown as OptimizerConfig;
}

/**
 * The hyper-parameters of `cfg` by external name, leaving out keys that are absent (so a config
 * with defaults filled in lists every key).
 */
export function namesFromConfig(cfg: OptimizerConfig): Record<string, number> {
  const d = optimizerDescriptor(cfg.kind);
  const c = cfg as unknown as Record<string, number | undefined>;
  const out: Record<string, number> = {};
  for (const p of d.params) if (c[p.key] !== undefined) out[p.name] = c[p.key] as number;
  return out;
}

/** `cfg` as the self-describing value. */
export function optimizerToSpec(cfg: OptimizerConfig): OptimizerSpec {
  return { kind: cfg.kind, params: namesFromConfig(cfg) };
}

/**
 * The config an `OptimizerSpec` describes (not yet validated: pass it to `createOptimizer`).
 * Errors name `${key}.kind` or `${key}.params.<name>`.
 */
export function optimizerFromSpec(spec: unknown, key = 'optimizer'): OptimizerConfig {
  const o = checkObject(key, spec);
  const params = o.params === undefined || o.params === null ? {} : checkObject(`${key}.params`, o.params);
  return configFromNames(o.kind, params, key, `${key}.params`);
}
