/**
 * ParameterAccess over a PsClient: the training loop's pulls and pushes go to the data client,
 * table creation and the initial dense weights to the admin client.
 */
import type { DataClientOptions } from '../client/data-client';
import type { PsClient } from '../client/ps-client';
import type { TrainingSpec } from '../spec/types';
import type { WorkerParams } from './param-access';

/**
 * The data-client options a training worker takes from its job spec's `training` section: the
 * push window and the wire encoding of values and gradients.
 *
 * ```ts
 * new PsClient({ shardMap, logger, ...trainingClientOptions(spec.training) });
 * ```
 */
export function trainingClientOptions(training: TrainingSpec): Pick<DataClientOptions, 'maxInflightPushes' | 'encoding'> {
  return { maxInflightPushes: training.maxInflightPushes, encoding: training.wireEncoding };
}

/** The worker's view of the PS behind `client`; closing it closes the client. */
export function psParams(client: PsClient): WorkerParams {
  const { data, admin } = client;
  return {
    createTable: async (spec) => { await admin.createTable(spec); },
    assignDense: (table, values, onlyIfFresh) => admin.assignDense(table, values, onlyIfFresh),
    pull: (table, ids, dim, opts) => data.pull(table, ids, dim, opts),
    push: (table, ids, grads) => data.push(table, ids, grads),
    pushStep: (sparse, dense) => data.pushStep(sparse, dense),
    sampleStaleness: () => data.sampleStaleness(),
    pullDense: (table, out) => data.pullDense(table, out),
    pushDense: (table, grads) => data.pushDense(table, grads),
    flush: () => data.flush(),
    close: () => client.close(),
    get inflightPushes() { return data.inflightPushes; },
    get pushThrottles() { return data.pushThrottles; },
  };
}
