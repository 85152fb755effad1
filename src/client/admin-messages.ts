/**
 * Request and response of every tessera.v1.PsAdmin RPC (protos/tessera/v1/admin.proto), in the
 * shape proto-loader gives them (camelCase fields, enums as strings, 64-bit integers as
 * numbers). The admin and checkpoint clients send and receive exactly these; ExportTable, the one
 * streaming RPC, is typed by PsConnection.exportTable.
 */
import type { CheckpointFileEntry } from '../checkpoint/manifest';
import type { tableSpecToWire, WireTableSpec } from '../ps/table-spec-wire';

/** CreateTable: a table spec as it travels on the wire. */
export interface CreateTableRequest { spec: ReturnType<typeof tableSpecToWire> }
/** `created` is false when an identical table already existed; `incarnation` is the table's either way. */
export interface CreateTableResponse { created: boolean; incarnation: number }

/** DropTable. */
export interface DropTableRequest { name: string }
/** `dropped` is false when there was no such table. */
export interface DropTableResponse { dropped: boolean }

/** SetShardMap: the map's version and the buckets this PS owns (packed little-endian uint32). */
export interface SetShardMapRequest { version: number; psIndex: number; numBuckets: number; ownedBuckets: Uint8Array; ownsNone?: boolean }
/** The version installed before. */
export interface SetShardMapResponse { previousVersion: number }

/** AssignDense: packed little-endian float32 values, exactly the table's size. */
export interface AssignDenseRequest { table: string; values: Uint8Array; onlyIfFresh: boolean }
/** `assigned` is false when `onlyIfFresh` and the table had been written already. */
export interface AssignDenseResponse { assigned: boolean }

/** Stats. */
export type StatsRequest = Record<string, never>;
/** One PS's tables and counters. */
export interface StatsResponse {
  tables: { name: string; kind: string; dim: number; rows: number; bytes: number; optimizer: string; incarnation: number }[];
  shardMapVersion: number;
  pulls: number;
  pushes: number;
  rowsPulled: number;
  rowsPushed: number;
  rejected: number;
  rssBytes: number;
  uptimeS: number;
}

/** Snapshot: take checkpoint `checkpointId`'s cut; files go to `dir/<checkpointId>/ps-<psId>/`. */
export interface SnapshotRequest { checkpointId: string; dir: string; kind: 'full' | 'incremental'; baseId: string; psId: number }
/** Rows resident at the cut and how long the cut took on the PS. */
export interface SnapshotResponse { cutRows: number; cutMicros: number }

/** One worker's step in a cut at per-worker steps (ADR 0040); `stepClient` is 8 bytes little-endian. */
export interface WorkerStepMessage { stepClient: Buffer; step: number; positions?: Buffer }
/** PrepareCut: hold tagged pushes; the answer is each worker's highest step applied, with its positions. */
export interface PrepareCutRequest { cutId: string; holdMs: number }
export interface PrepareCutResponse { steps: WorkerStepMessage[] }
/** CutAt: cut at these steps, taking `snapshot` there. */
export interface CutAtRequest { cutId: string; steps: WorkerStepMessage[]; waitMs: number; snapshot: SnapshotRequest }
export interface CutAtResponse { snapshot: SnapshotResponse }
/** ReleaseCut: end an abandoned cut's hold. */
export interface ReleaseCutRequest { cutId: string; reason: string }
export interface ReleaseCutResponse { released: boolean }

/** SnapshotStatus. */
export interface SnapshotStatusRequest { checkpointId: string }
/** Where a snapshot's background write stands; files when DONE, error when FAILED. */
export interface SnapshotStatusResponse {
  state: 'WRITING' | 'DONE' | 'FAILED';
  files: CheckpointFileEntry[];
  error: string;
  /** the tables in the snapshot, as the PS holds them (every default filled in) */
  tables: WireTableSpec[];
  numBuckets: number;
  shardMapVersion: number;
  copiedSlabs: number;
}

/** Restore: checkpoint `root/checkpointId` (with its chain) for the buckets this PS owns now. */
export interface RestoreRequest {
  root: string;
  checkpointId: string;
  /** packed little-endian uint16 bucket numbers */
  buckets: Uint8Array;
  numBuckets: number;
  /** dense tables this PS holds and should load */
  denseTables: string[];
}
/** Rows loaded per table. */
export interface RestoreResponse { tables: { table: string; rows: number }[] }

/** Every unary PsAdmin RPC by method name: its request and its response. */
export interface AdminRpcs {
  CreateTable: { req: CreateTableRequest; res: CreateTableResponse };
  DropTable: { req: DropTableRequest; res: DropTableResponse };
  SetShardMap: { req: SetShardMapRequest; res: SetShardMapResponse };
  AssignDense: { req: AssignDenseRequest; res: AssignDenseResponse };
  Stats: { req: StatsRequest; res: StatsResponse };
  Snapshot: { req: SnapshotRequest; res: SnapshotResponse };
  SnapshotStatus: { req: SnapshotStatusRequest; res: SnapshotStatusResponse };
  Restore: { req: RestoreRequest; res: RestoreResponse };
  PrepareCut: { req: PrepareCutRequest; res: PrepareCutResponse };
  CutAt: { req: CutAtRequest; res: CutAtResponse };
  ReleaseCut: { req: ReleaseCutRequest; res: ReleaseCutResponse };
}
