/**
 * ParameterAccess whose writes wait while a checkpoint cut this worker acknowledged is in
 * progress (BarrierGate.untilLowered). Reads go through: pulls do not change what a snapshot
 * holds (a row a pull creates has its deterministic initial value either way).
 */
import type { IdArray } from '../wire/key-block';
import type { BarrierGate } from './barrier-gate';
import type { WorkerParams } from './param-access';

/** Wraps `inner` so pushes wait at a raised checkpoint barrier until it is lowered (or stopping). */
export function gatedParams(inner: WorkerParams, gate: BarrierGate, stopping: () => boolean): WorkerParams {
  const held = () => gate.untilLowered(stopping);
  return {
    createTable: (spec) => inner.createTable(spec),
    pull: (table, ids, dim, opts) => inner.pull(table, ids, dim, opts),
    pullDense: (table) => inner.pullDense(table),
    assignDense: (table, values, onlyIfFresh) => inner.assignDense(table, values, onlyIfFresh),
    flush: () => inner.flush(),
    sampleStaleness: () => inner.sampleStaleness?.() ?? false,
    close: () => inner.close(),
    get inflightPushes() { return inner.inflightPushes; },
    get pushThrottles() { return inner.pushThrottles; },
    push: async (table: string, ids: IdArray, grads: Float32Array) => { await held(); return inner.push(table, ids, grads); },
    pushDense: async (table: string, grads: Float32Array) => { await held(); return inner.pushDense(table, grads); },
    pushStep: async (sparse, dense) => { await held(); return inner.pushStep(sparse, dense); },
  };
}
