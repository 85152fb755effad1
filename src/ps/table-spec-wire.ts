/**
 * Conversion between the wire TableSpec (admin.proto, as proto-loader decodes it) and the
 * store's TableSpec. Validation of values happens in the store; this only maps shapes, and keeps
 * what was sent: the optimizer is one self-describing `{kind, params}` value (optimizer-spec.ts)
 * and the weight format, admission and eviction fields have explicit presence (proto3
 * `optional`), so a zero that was sent arrives as a zero and only an absent key takes its default
 * (ADR 0016).
 */
import { ERROR_CODES, TesseraError } from '../common/errors';
import { OptimizerSpec, optimizerFromSpec, optimizerToSpec } from './optimizers/optimizer-spec';
import type { InitializerConfig } from './store/initializers';
import type { TableSpec } from './store/table-store';
import type { WeightFormat } from './store/row-storage';
import type { AdmissionConfig, EvictionConfig } from './store/table-options';

/** TableSpec as proto-loader produces it (enums as strings; absent optional fields left out). */
export interface WireTableSpec {
  name: string;
  kind: 'EMBEDDING' | 'DENSE';
  dim: number;
  size: number;
  optimizer?: OptimizerSpec | null;
  initializer?: { kind: string; value: number; scale: number; std: number } | null;
  seed: number;
  weightFormat?: string | null;
  admission?: Record<string, unknown> | null;
  eviction?: Record<string, unknown> | null;
}

/**
 * The fields of a message with proto3 `optional` fields that were sent. proto-loader leaves an
 * absent one out and adds a `_<field>` key per field (the synthetic oneof naming it).
 */
function sentFields(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([k, v]) => !k.startsWith('_') && v !== undefined && v !== null));
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
export function tableSpecFromWire(w: WireTableSpec | null | undefined): TableSpec {
  if (!w) throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, 'spec: required (CreateTableRequest.spec, field 1)');
  if (!w.optimizer) {
    throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT,
      `spec.optimizer: table "${w.name}" has no optimizer; set TableSpec.optimizer (field 11) to an OptimizerSpec {kind, params}`);
  }
  const optimizer = optimizerFromSpec(w.optimizer, 'optimizer');
  const initializer = initializerFromWire(w.initializer);
  if (w.kind === 'DENSE') return { name: w.name, kind: 'dense', size: w.size, optimizer, initializer, seed: w.seed };
  const spec: TableSpec = { name: w.name, kind: 'embedding', dim: w.dim, optimizer, initializer, seed: w.seed };
  if (w.weightFormat !== undefined && w.weightFormat !== null) spec.weightFormat = w.weightFormat as WeightFormat;
  if (w.admission) spec.admission = sentFields(w.admission) as unknown as AdmissionConfig;
  if (w.eviction) spec.eviction = sentFields(w.eviction) as EvictionConfig;
  return spec;
}

/** Store → wire (for CreateTable requests from clients, and the tables of a snapshot). */
export function tableSpecToWire(s: TableSpec): Record<string, unknown> {
  const init = s.initializer;
  return {
    name: s.name,
    kind: s.kind === 'dense' ? 'DENSE' : 'EMBEDDING',
    dim: s.kind === 'embedding' ? s.dim : 0,
    size: s.kind === 'dense' ? s.size : 0,
    // A spec without one reaches the PS without one, which refuses it naming the field.
    optimizer: s.optimizer ? optimizerToSpec(s.optimizer) : undefined,
    initializer: init ? { ...init, kind: init.kind.toUpperCase() } : undefined,
    seed: s.seed ?? 0,
    ...(s.kind === 'embedding' ? {
      weightFormat: s.weightFormat,
      admission: s.admission ? { ...s.admission } : undefined,
      eviction: s.eviction ? { ...s.eviction } : undefined,
    } : {}),
  };
}
