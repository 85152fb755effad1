/**
 * A table spec as a checkpoint manifest records it (`ManifestTable`, src/checkpoint/manifest.ts)
 * and back. The optimizer is its self-describing `{kind, params}` value (optimizer-spec.ts), as on
 * the wire; everything else keeps the store's spelling, with every default filled in.
 *
 * ```ts
 * tableLayoutOf({ name: 'emb', kind: 'embedding', dim: 8, optimizer: { kind: 'adam', lr: 0.01, beta1: 0 } });
 * // { name: 'emb', kind: 'embedding', dim: 8, optimizer: { kind: 'adam', params: { lr: 0.01, beta1: 0, beta2: 0.999, eps: 1e-8 } },
 * //   initializer: { kind: 'uniform', scale: 0.01 }, seed: 0, weightFormat: 'f32' }
 * ```
 */
import type { ManifestTable } from '../checkpoint/manifest';
import { optimizerFromSpec, optimizerToSpec } from './optimizers/optimizer-spec';
import type { InitializerConfig } from './store/initializers';
import type { WeightFormat } from './store/row-storage';
import type { AdmissionConfig, EvictionConfig } from './store/table-options';
import { normalizeTableSpec, TableSpec } from './store/table-spec';

/** The manifest record of `spec` (validated; defaults filled in). */
export function tableLayoutOf(spec: TableSpec): ManifestTable {
  const n = normalizeTableSpec(spec);
  const settings = { optimizer: optimizerToSpec(n.optimizer), initializer: { ...n.initializer }, seed: n.seed };
  if (n.kind === 'dense') return { name: n.name, kind: 'dense', size: n.size, ...settings };
  return {
    name: n.name, kind: 'embedding', dim: n.dim, ...settings, weightFormat: n.weightFormat ?? 'f32',
    ...(n.admission ? { admission: { ...n.admission } as ManifestTable['admission'] } : {}),
    ...(n.eviction ? { eviction: { ...n.eviction } as ManifestTable['eviction'] } : {}),
  };
}

/** The spec a manifest record describes (not validated here: the store validates on create). */
export function tableSpecOfLayout(t: ManifestTable): TableSpec {
  const settings = { optimizer: optimizerFromSpec(t.optimizer), initializer: t.initializer as unknown as InitializerConfig, seed: t.seed };
  if (t.kind === 'dense') return { name: t.name, kind: 'dense', size: t.size as number, ...settings };
  return {
    name: t.name, kind: 'embedding', dim: t.dim as number, ...settings,
    ...(t.weightFormat === undefined ? {} : { weightFormat: t.weightFormat as WeightFormat }),
    ...(t.admission ? { admission: { ...t.admission } as unknown as AdmissionConfig } : {}),
    ...(t.eviction ? { eviction: { ...t.eviction } as unknown as EvictionConfig } : {}),
  };
}
