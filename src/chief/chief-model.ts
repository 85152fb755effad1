/**
 * What the chief does to the model through the PS: create the tables and install the shard map,
 * evaluate at the end of an epoch, and save the trained model. Built over a PsClient for one
 * shard map; rebuilt when the map changes.
 */
import type { ChannelCredentials } from '@grpc/grpc-js';
import type { Logger } from '../common/logger';
import { RowReader } from '../data/reader';
import { RawRow, schemaFor } from '../data/record';
import type { EvalResult } from '../eval/metrics';
import type { ShardMap } from '../sharding/shard-map';
import type { JobSpec } from '../spec/types';
import { buildJob } from '../worker/job';
import { modelContent, ModelTargets, saveTrainedModel } from '../worker/model-export';
import { PsClient } from '../client/ps-client';
import { psParams } from '../worker/ps-params';

export interface ChiefModel {
  readonly mapVersion: number;
  /** The PS client of this shard map (checkpoints cut and restore through it). */
  readonly client: PsClient;
  /** Installs the shard map on every PS, creates the tables and offers the initial dense weights (idempotent). */
  initTables(): Promise<void>;
  /** Every PS table of the job: the embedding tables and the dense table (as PsAdminClient.createTable takes them). */
  readonly tableSpecs: readonly Parameters<PsClient['admin']['createTable']>[0][];
  evaluate(path: string): Promise<EvalResult>;
  /**
   * Saves the model (readable by `tessera eval --checkpoint DIR`) to a directory and/or as the
   * next version in a model root; resolves with the published version.
   */
  save(to: ModelTargets, info: { step: number; samples: number }): Promise<number | undefined>;
  /** Evaluates batches of rows: a stream job's held-out slice. */
  evaluateRows(batches: AsyncIterable<RawRow[]>): Promise<EvalResult>;
  close(): void;
}

/** Rows per evaluation batch. */
const EVAL_BATCH = 4096;

/** How the chief's model reaches the PS besides its shard map. */
export interface ChiefModelOptions {
  /** Mutual TLS to the PS (default plaintext). */
  credentials?: ChannelCredentials;
  /**
   * The newest published shard map (the chief reads it from etcd). A PS that refuses an
   * evaluation's pull as routed with an old map then costs a re-route by the new map, as a
   * worker's does (docs/adr/0035), instead of a failed evaluation. Absent: the refusal is an error.
   */
  latestMap?: () => Promise<ShardMap | undefined>;
}

/** The chief's model over the PS of `map`. */
export function psChiefModel(spec: JobSpec, map: ShardMap, logger: Logger, opts: ChiefModelOptions = {}): ChiefModel {
  const client = new PsClient({ shardMap: map, logger, maxInflightPushes: spec.training.maxInflightPushes, credentials: opts.credentials, latestMap: opts.latestMap });
  const { trainer, layout, model } = buildJob(spec, psParams(client), logger);
  return {
    mapVersion: map.version,
    client,
    tableSpecs: [...trainer.tableSpecs(), layout.denseSpec(model.denseSize)],
    async initTables() {
      await client.admin.installShardMap();
      await trainer.init();
    },
    evaluate: (path) => trainer.evaluate(new RowReader(path, schemaFor(spec.data.format), { maxErrorRate: spec.data.maxErrorRate }).batches(EVAL_BATCH)),
    async save(to, info) {
      const out = await saveTrainedModel(await modelContent(spec, layout, client, info), to);
      return out.version?.version;
    },
    evaluateRows: (batches) => trainer.evaluate(batches),
    close: () => client.close(),
  };
}
