/**
 * The chunk: the unit of a checkpoint file, with a fixed little-endian layout and its own
 * checksums, so a reader can name the exact chunk that is damaged (docs/checkpoint-format.md).
 *
 * ```text
 * header (192 bytes)
 *   0  u32 magic 0x4b435354 ("TSCK")     4  u16 version (1)     6  u8 kind (0 rows, 1 tombstones, 2 dense,
 *                                                                      3 meta, 4 sketch: migration only)
 *   7  u8  weight format (0 f32, 1 f16)   8  u32 dim (dense: size) 12 u32 state width (floats per row)
 *  16  u32 rows                          20  u32 bucket start     24 u32 bucket end (exclusive)
 *  28  u32 payload bytes                 32  u32 crc32 of the payload
 *  36  u32 crc32 of header bytes [0, 36) and [40, 192)
 *  40  u8  table name length             41  table name (UTF-8, ≤ 128 bytes), zero padded to 192
 * payload
 *   ids     rows × u64 (absent for dense chunks)
 *   weights rows × dim × (f32 | fp16 bits), zero padded to a multiple of 4 bytes (absent for tombstones)
 *   state   rows × state width × f32 (absent for tombstones)
 * ```
 * A migration (issue 17) also sends two kinds no checkpoint file holds: `meta`, the eviction
 * metadata of rows (dim 2: per row a u32 tick and a u32 use count, in the weights section; the
 * header's state width holds the source's eviction clock, and there is no state section), and
 * `sketch`, admission sketch counters (the ids section holds `[cell, count]` pairs; dim and state
 * width 0).
 * Every chunk is a multiple of 4 bytes long, so typed-array views of a file read into memory are
 * aligned. The checksum is CRC-32 (IEEE 802.3 polynomial, zlib's `crc32`), native in Node.
 */
import * as zlib from 'zlib';
import { ERROR_CODES, TesseraError } from '../common/errors';

export const CHUNK_MAGIC = 0x4b435354;
export const CHUNK_VERSION = 1;
export const CHUNK_HEADER_BYTES = 192;
const NAME_MAX = 128;

/** What a chunk holds. */
export type ChunkKind = 'rows' | 'tombstones' | 'dense' | 'meta' | 'sketch';
const KINDS: readonly ChunkKind[] = ['rows', 'tombstones', 'dense', 'meta', 'sketch'];

export interface ChunkHeader {
  kind: ChunkKind;
  weightFormat: 'f32' | 'f16';
  table: string;
  dim: number;
  stateWidth: number;
  rows: number;
  bucketStart: number;
  bucketEnd: number;
  payloadBytes: number;
  payloadCrc: number;
}

/** A decoded chunk: views into the file's bytes. */
export interface Chunk {
  header: ChunkHeader;
  /** index of the chunk in its file, from 0 */
  index: number;
  /** byte offset of the chunk's header in its file */
  offset: number;
  ids: Uint32Array;
  weights: Float32Array | Uint16Array;
  state: Float32Array;
}

/** Byte sizes of a chunk's payload sections. */
export function payloadLayout(h: Pick<ChunkHeader, 'kind' | 'weightFormat' | 'dim' | 'stateWidth' | 'rows'>): { ids: number; weights: number; pad: number; state: number; total: number } {
  const ids = h.kind === 'dense' ? 0 : h.rows * 8;
  const raw = h.kind === 'tombstones' ? 0 : h.rows * h.dim * (h.weightFormat === 'f16' ? 2 : 4);
  const pad = (4 - (raw % 4)) % 4;
  const state = h.kind === 'tombstones' || h.kind === 'meta' ? 0 : h.rows * h.stateWidth * 4;
  return { ids, weights: raw, pad, state, total: ids + raw + pad + state };
}

function corrupt(where: string, what: string): TesseraError {
  return new TesseraError(ERROR_CODES.CHECKPOINT_CORRUPT, `${where}: ${what}`);
}

/** Encodes a chunk header (computes the header checksum). */
export function encodeHeader(h: ChunkHeader): Buffer {
  const name = Buffer.from(h.table, 'utf8');
  if (name.length > NAME_MAX) throw new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `table name "${h.table}" is longer than ${NAME_MAX} bytes`);
  const b = Buffer.alloc(CHUNK_HEADER_BYTES);
  b.writeUInt32LE(CHUNK_MAGIC, 0);
  b.writeUInt16LE(CHUNK_VERSION, 4);
  b.writeUInt8(KINDS.indexOf(h.kind), 6);
  b.writeUInt8(h.weightFormat === 'f16' ? 1 : 0, 7);
  b.writeUInt32LE(h.dim, 8);
  b.writeUInt32LE(h.stateWidth, 12);
  b.writeUInt32LE(h.rows, 16);
  b.writeUInt32LE(h.bucketStart, 20);
  b.writeUInt32LE(h.bucketEnd, 24);
  b.writeUInt32LE(h.payloadBytes, 28);
  b.writeUInt32LE(h.payloadCrc >>> 0, 32);
  b.writeUInt8(name.length, 40);
  name.copy(b, 41);
  b.writeUInt32LE(headerCrc(b), 36);
  return b;
}

function headerCrc(b: Uint8Array): number {
  return zlib.crc32(b.subarray(40, CHUNK_HEADER_BYTES), zlib.crc32(b.subarray(0, 36)));
}

/** Decodes and checks the header at `at`; errors name `where` (file and chunk). */
export function decodeHeader(buf: Buffer, at: number, where: string): ChunkHeader {
  if (buf.length - at < CHUNK_HEADER_BYTES) throw corrupt(where, `truncated: ${buf.length - at} bytes left, a chunk header is ${CHUNK_HEADER_BYTES}`);
  const b = buf.subarray(at, at + CHUNK_HEADER_BYTES);
  if (b.readUInt32LE(0) !== CHUNK_MAGIC) throw corrupt(where, `bad magic 0x${b.readUInt32LE(0).toString(16)} (not a Tessera checkpoint chunk)`);
  if (b.readUInt32LE(36) !== headerCrc(b)) throw corrupt(where, 'header checksum mismatch');
  const version = b.readUInt16LE(4);
  if (version !== CHUNK_VERSION) throw corrupt(where, `unsupported chunk version ${version} (this build reads ${CHUNK_VERSION})`);
  const kind = KINDS[b.readUInt8(6)];
  if (!kind) throw corrupt(where, `unknown chunk kind ${b.readUInt8(6)}`);
  const nameLen = b.readUInt8(40);
  if (nameLen > NAME_MAX) throw corrupt(where, `table name length ${nameLen} > ${NAME_MAX}`);
  const h: ChunkHeader = {
    kind, weightFormat: b.readUInt8(7) === 1 ? 'f16' : 'f32', table: b.toString('utf8', 41, 41 + nameLen),
    dim: b.readUInt32LE(8), stateWidth: b.readUInt32LE(12), rows: b.readUInt32LE(16),
    bucketStart: b.readUInt32LE(20), bucketEnd: b.readUInt32LE(24), payloadBytes: b.readUInt32LE(28), payloadCrc: b.readUInt32LE(32),
  };
  if (payloadLayout(h).total !== h.payloadBytes) throw corrupt(where, `payload size ${h.payloadBytes} does not match ${h.rows} rows of dim ${h.dim}`);
  return h;
}

/**
 * The buffers of one chunk, header first, ready for `writev`, and their CRC-32 (of all bytes).
 * `weights` and `state` are written as they are (little-endian hosts only, like the wire).
 */
export function encodeChunk(
  h: Omit<ChunkHeader, 'payloadBytes' | 'payloadCrc'>, ids: Uint32Array, weights: Float32Array | Uint16Array, state: Float32Array,
): Buffer[] {
  const lay = payloadLayout(h);
  const parts: Buffer[] = [];
  if (lay.ids) parts.push(view(ids));
  if (lay.weights) parts.push(view(weights));
  if (lay.pad) parts.push(Buffer.alloc(lay.pad));
  if (lay.state) parts.push(view(state));
  let crc = 0;
  for (const p of parts) crc = zlib.crc32(p, crc);
  return [encodeHeader({ ...h, payloadBytes: lay.total, payloadCrc: crc }), ...parts];
}

function view(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * Every chunk of a file's bytes, checked: header, payload checksum, truncation. Errors name the
 * file, the chunk index and its byte offset.
 */
export function* readChunks(buf: Buffer, file: string, verify = true): Generator<Chunk> {
  let at = 0;
  for (let index = 0; at < buf.length; index++) {
    const where = `${file} chunk ${index} (offset ${at})`;
    const header = decodeHeader(buf, at, where);
    const start = at + CHUNK_HEADER_BYTES;
    if (buf.length - start < header.payloadBytes) {
      throw corrupt(where, `truncated: payload is ${header.payloadBytes} bytes, ${buf.length - start} left in the file`);
    }
    const payload = buf.subarray(start, start + header.payloadBytes);
    if (verify && zlib.crc32(payload) !== header.payloadCrc) throw corrupt(where, 'payload checksum mismatch');
    yield { header, index, offset: at, ...sections(header, payload) };
    at = start + header.payloadBytes;
  }
}

function sections(h: ChunkHeader, p: Buffer): { ids: Uint32Array; weights: Float32Array | Uint16Array; state: Float32Array } {
  const lay = payloadLayout(h);
  const aligned = p.byteOffset % 4 === 0 ? p : Buffer.from(p);
  const at = (off: number) => aligned.byteOffset + off;
  const ids = new Uint32Array(aligned.buffer, at(0), lay.ids / 4);
  const weights = h.weightFormat === 'f16'
    ? new Uint16Array(aligned.buffer, at(lay.ids), lay.weights / 2)
    : new Float32Array(aligned.buffer, at(lay.ids), lay.weights / 4);
  const state = new Float32Array(aligned.buffer, at(lay.ids + lay.weights + lay.pad), lay.state / 4);
  return { ids, weights, state };
}
