/**
 * The checkpoint file format (docs/checkpoint-format.md): TSCK chunks, the manifest, checkpoint
 * ids, the catalog of a checkpoint root (ls, latest, chains, garbage collection) and verification.
 * Nothing here talks to a PS: the PS writes and loads these files in src/ps/checkpoint/, and
 * callers cut and restore through src/client/.
 */
export { CHUNK_MAGIC, CHUNK_VERSION, CHUNK_HEADER_BYTES, readChunks, encodeChunk } from './chunk-format';
export type { Chunk, ChunkHeader, ChunkKind } from './chunk-format';
export { MANIFEST_FILE, MANIFEST_FORMAT, readManifest, writeManifest, validateManifest } from './manifest';
export type { Manifest, CheckpointFileEntry } from './manifest';
export { newCheckpointId, checkpointSeq, compareCheckpointIds } from './checkpoint-id';
export { listCheckpoints, latestCheckpointId, resolveChain, collectGarbage, resolveCheckpointArg } from './catalog';
export type { CheckpointInfo } from './catalog';
export { verifyCheckpoint, formatChecksum } from './verify';
export type { VerifyReport } from './verify';
