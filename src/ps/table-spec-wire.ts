/**
 * Conversion between the wire TableSpec (admin.proto, as proto-loader decodes it) and the
 * store's TableSpec. Validation of values happens in the store; this only maps shapes.
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import type { OptimizerConfig } from './optimizers/optimizer';
import type { InitializerConfig } from './store/initializers';
import type { TableSpec } from './store/table-store';
import type { WeightFormat } from './store/row-storage';
import type { AdmissionConfig, EvictionConfig } from './store/table-options';

/** TableSpec as proto-loader produces it (enums as strings, oneof name in `kind`). */
export interface WireTableSpec {
  name: string;
  kind: 'EMBEDDING' | 'DENSE';
  dim: number;
  size: number;
  optimizer?: { kind?: string; sgd?: object; adagrad?: object; adam?: object; ftrl?: object } | null;
  initializer?: { kind: string; value: number; scale: number; std: number } | null;
  seed: number;
  weightFormat?: string;
  admission?: { minCount: number; sketchWidth: number; sketchDepth: number; unadmitted: string } | null;
  eviction?: { policy: string; ttlSteps: number; ttlSeconds: number; maxRows: number; maxBytes: number; spill?: boolean } | null;
}

/** Proto3 zero/empty means "not set": drop those keys so the PS's validation fills defaults. */
function setOnly<T extends object>(o: T | null | undefined): Partial<T> | undefined {
  if (!o) return undefined;
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== 0 && v !== '' && v !== null && v !== undefined)) as Partial<T>;
}

function optimizerFromWire(o: WireTableSpec['optimizer'], table: string): OptimizerConfig {
  const kind = o?.kind;
  if (!o || !kind || !(kind in o)) {
    throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `spec.optimizer: table "${table}" has no optimizer`);
  }
  const body = (o as Record<string, Record<string, number>>)[kind];
  const pick = (k: string) => (body[k] === 0 ? undefined : body[k]);
  switch (kind) {
    case 'sgd': return { kind, lr: body.lr };
    case 'adagrad': return { kind, lr: body.lr, initialAccumulator: pick('initialAccumulator'), eps: pick('eps') };
    case 'adam': return { kind, lr: body.lr, beta1: pick('beta1'), beta2: pick('beta2'), eps: pick('eps') };
    case 'ftrl': return { kind, alpha: body.alpha, beta: pick('beta'), l1: body.l1, l2: body.l2 };
    default: throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `spec.optimizer: unknown optimizer "${kind}"`);
  }
}

function initializerFromWire(i: WireTableSpec['initializer']): InitializerConfig | undefined {
  if (!i) return undefined;
  switch (i.kind) {
    case 'ZEROS': return { kind: 'zeros' };
    case 'CONSTANT': return { kind: 'constant', value: i.value };
    case 'UNIFORM': return { kind: 'uniform', scale: i.scale };
    case 'NORMAL': return { kind: 'normal', std: i.std };
    default: throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `spec.initializer.kind: unknown kind "${i.kind}"`);
  }
}

/** Wire → store. */
export function tableSpecFromWire(w: WireTableSpec): TableSpec {
  const optimizer = optimizerFromWire(w.optimizer, w.name);
  const initializer = initializerFromWire(w.initializer);
  if (w.kind === 'DENSE') return { name: w.name, kind: 'dense', size: w.size, optimizer, initializer, seed: w.seed };
  const spec: TableSpec = { name: w.name, kind: 'embedding', dim: w.dim, optimizer, initializer, seed: w.seed };
  if (w.weightFormat) spec.weightFormat = w.weightFormat as WeightFormat;
  if (w.admission) {
    // min_count 0 must reach validation (and be refused), not read as "unset".
    spec.admission = { ...setOnly(w.admission), minCount: w.admission.minCount } as AdmissionConfig;
  }
  if (w.eviction) spec.eviction = setOnly(w.eviction) as EvictionConfig;
  return spec;
}

/** Store → wire (for CreateTable requests from clients). */
export function tableSpecToWire(s: TableSpec): Record<string, unknown> {
  const { kind: optKind, ...optBody } = s.optimizer;
  const init = s.initializer;
  return {
    name: s.name,
    kind: s.kind === 'dense' ? 'DENSE' : 'EMBEDDING',
    dim: s.kind === 'embedding' ? s.dim : 0,
    size: s.kind === 'dense' ? s.size : 0,
    optimizer: { [optKind]: optBody },
    initializer: init ? { ...init, kind: init.kind.toUpperCase() } : undefined,
    seed: s.seed ?? 0,
    ...(s.kind === 'embedding' ? {
      weightFormat: s.weightFormat ?? '',
      admission: s.admission ? { ...s.admission } : undefined,
      eviction: s.eviction ? { ...s.eviction } : undefined,
    } : {}),
  };
}
