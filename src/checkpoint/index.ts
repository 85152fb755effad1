/** Checkpoints on disk (issue #5): chunk format, manifest, catalog, verify, write and restore. */
export { CHUNK_MAGIC, CHUNK_VERSION, CHUNK_HEADER_BYTES, readChunks, encodeChunk } from './chunk-format';
export type { Chunk, ChunkHeader, ChunkKind } from './chunk-format';
export { MANIFEST_FILE, MANIFEST_FORMAT, readManifest, writeManifest, validateManifest } from './manifest';
export type { Manifest, CheckpointFileEntry } from './manifest';
export { newCheckpointId, checkpointSeq, compareCheckpointIds } from './checkpoint-id';
export { listCheckpoints, latestCheckpointId, resolveChain, collectGarbage, resolveCheckpointArg } from './catalog';
export type { CheckpointInfo } from './catalog';
export { verifyCheckpoint, formatChecksum } from './verify';
export type { VerifyReport } from './verify';
export { writeSnapshot, DEFAULT_FILE_RANGES } from '../ps/checkpoint/snapshot-writer';
export { restoreCheckpoint } from '../ps/checkpoint/restore-loader';
export { buildManifest, takeCheckpoint } from '../client/take-checkpoint';
export type { TakeCheckpointOptions } from '../client/take-checkpoint';
