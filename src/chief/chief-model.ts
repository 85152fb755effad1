/**
 * What the chief does to the model through the PS: create the tables and install the shard map,
 * evaluate at the end of an epoch, and save the trained model. Built over a PsClient for one
 * shard map; rebuilt when the map changes.
 */
import type { ChannelCredentials } from '@grpc/grpc-js';
import type { Logger } from '../common/logger';
import { RowReader } from '../data/reader';
import { schemaFor } from '../data/record';
import type { EvalResult } from '../eval/metrics';
import type { ShardMap } from '../sharding/shard-map';
import type { JobSpec } from '../spec/types';
import { buildJob } from '../worker/job';
import { saveModel } from '../worker/model-dir';
import { PsClient } from '../client/ps-client';
import { DENSE_TABLE } from '../worker/trainer';
import { psParams } from '../worker/ps-params';

export interface ChiefModel {
  readonly mapVersion: number;
  /** The PS client of this shard map (checkpoints cut and restore through it). */
  readonly client: PsClient;
  /** Installs the shard map on every PS, creates the tables and offers the initial dense weights (idempotent). */
  initTables(): Promise<void>;
  evaluate(path: string): Promise<EvalResult>;
  /** Saves the model (readable by `tessera eval --checkpoint DIR`). */
  save(dir: string, info: { step: number; samples: number }): Promise<void>;
  close(): void;
}

/** Rows per evaluation batch. */
const EVAL_BATCH = 4096;

/** The chief's model over the PS of `map`; `credentials`: mutual TLS to the PS (default plaintext). */
export function psChiefModel(spec: JobSpec, map: ShardMap, logger: Logger, credentials?: ChannelCredentials): ChiefModel {
  const client = new PsClient({ shardMap: map, logger, maxInflightPushes: spec.training.maxInflightPushes, credentials });
  const { trainer } = buildJob(spec, psParams(client), logger);
  return {
    mapVersion: map.version,
    client,
    async initTables() {
      await client.admin.installShardMap();
      await trainer.init();
    },
    evaluate: (path) => trainer.evaluate(new RowReader(path, schemaFor(spec.data.format), { maxErrorRate: spec.data.maxErrorRate }).batches(EVAL_BATCH)),
    async save(dir, info) {
      const dense = await client.data.pullDense(DENSE_TABLE);
      await saveModel(dir, {
        spec, tables: trainer.tableSpecs(), step: info.step, samples: info.samples,
        dense: { name: DENSE_TABLE, kind: 'dense', size: dense.length, optimizer: spec.model.denseOptimizer, initializer: { kind: 'zeros' } },
        rows: (table, kind) => client.admin.exportTable(table, kind),
      }, 'checkpoint dir'); // the model is written under the checkpoint root
    },
    close: () => client.close(),
  };
}
