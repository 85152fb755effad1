/**
 * Tessera as a library (`import … from '@tessera-ps/tessera'`): a client of a cluster's parameter
 * servers, sharding and feature hashing, and job-spec loading with the feature transform that
 * training and evaluation share. The models are the `@tessera-ps/tessera/model` entry point
 * (src/model/models.ts).
 *
 * ```ts
 * import { PsClient, planShardMap, idsFrom, createLogger } from '@tessera-ps/tessera';
 * const ps = new PsClient({ shardMap: planShardMap([{ id: 0, addr: '127.0.0.1:7000' }]), logger: createLogger() });
 * await ps.admin.installShardMap();
 * await ps.admin.createTable({ name: 'user', kind: 'embedding', dim: 16, optimizer: { kind: 'adagrad', lr: 0.05 } });
 * const rows = await ps.data.pull('user', idsFrom([42n, 7n]), 16);
 * ps.close();
 * ```
 */

// The client of a set of PS: data (pull, push), admin (tables, shard map) and checkpoints.
export { PsClient } from './client/ps-client';
export type { PsClientOptions } from './client/ps-client';
export { PsDataClient } from './client/data-client';
export type { DataClientOptions } from './client/data-client';
export { PsAdminClient } from './client/admin-client';
export type * from './client/admin-messages';
export { PsCheckpointClient } from './client/checkpoint-client';
export type { PsSnapshotResult, PsSnapshotStatus, RestoreTarget } from './client/checkpoint-client';
export { takeCheckpoint, buildManifest } from './client/take-checkpoint';
export type { TakeCheckpointOptions } from './client/take-checkpoint';
export { restoreFromCheckpoint } from './client/restore-checkpoint';
export type { PsFleetOptions } from './client/ps-fleet';

// What a table is: the spec createTable takes.
export type { TableSpec, EmbeddingTableSpec, DenseTableSpec } from './ps/store/table-spec';
export type { OptimizerConfig, OptimizerKind } from './ps/optimizers/optimizer';
export type { InitializerConfig } from './ps/store/initializers';

// Ids on the wire: packed [lo, hi] u32 pairs of unsigned 64-bit ids.
export { idsFrom, idAt, idCount, idsToBigInts } from './wire/key-block';
export type { IdArray } from './wire/key-block';

// Sharding and feature hashing; job specs and the feature transform.
export * from './sharding';
export * from './spec';

// Errors carry a stable code and say whether a retry may help; logs are pino JSON.
export { TesseraError, ERROR_CODES, isRetryable } from './common/errors';
export type { ErrorCode } from './common/errors';
export { createLogger, silentLogger } from './common/logger';
export type { Logger, LoggerOptions } from './common/logger';
