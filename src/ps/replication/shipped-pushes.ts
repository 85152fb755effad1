/**
 * Pushes as replication ships them (tessera.v1.ReplicaBatch `pushes`, one entry per push, in the
 * primary's apply order): the buddy applies each to its replica with the table's own optimizer,
 * so the replica stays bit-equal to the primary's rows without the primary reading and encoding
 * rows at a cut (ADR 0037, amendment 2). Layout, little-endian, 4-byte aligned:
 * `crc32 u32 | name bytes u32 | rows u32 | name (padded to 4) | ids (rows × 2 u32) | grads (f32)`,
 * the CRC-32 over everything after it.
 *
 * ```ts
 * const bytes = encodeShippedPush('emb', ids, grads);   // on the primary, after the push applied
 * const p = decodeShippedPush(bytes, 'batch 7 push 0');  // on the buddy: p.table, p.ids, p.grads
 * ```
 */
import * as zlib from 'node:zlib';
import { ERROR_CODES, TesseraError } from '../../common/errors';
import { GRPC_FRAME_HEADER, ProtoWriter } from '../../wire/proto-bytes';

const HEADER_BYTES = 12;

/** One push as the buddy applies it. */
export interface ShippedPush {
  table: string;
  /** lo, hi pairs */
  ids: Uint32Array;
  grads: Float32Array;
}

/** One push's bytes: a copy of `ids` and `grads` (the request's buffers are not kept). */
export function encodeShippedPush(table: string, ids: Uint32Array, grads: Float32Array): Buffer {
  const name = Buffer.from(table, 'utf8');
  const out = Buffer.allocUnsafe(shippedPushBytes(name.length, ids, grads));
  fillShippedPush(out, name, ids, grads);
  return out;
}

/**
 * Writes one push as field `field` (a ReplicaBatch's `pushes`) of the message `w` is writing,
 * after a padding field that puts its ids and gradients 4-byte aligned where a gRPC receiver
 * places the message (5 bytes into its buffer), so the buddy reads them as views. This is the
 * only copy the primary makes of a push: from the request into the log's buffer, which goes to
 * the wire as it is (ReplicationLog, replicate-request.ts). Returns the push's bytes (a view).
 */
export function writeShippedPush(w: ProtoWriter, field: number, table: string, ids: Uint32Array, grads: Float32Array): Uint8Array {
  const name = Buffer.from(table, 'utf8');
  const len = shippedPushBytes(name.length, ids, grads);
  const out = w.alignNext(field, len, GRPC_FRAME_HEADER).lengthHeader(field, len).reserve(len);
  fillShippedPush(out, name, ids, grads);
  return out;
}

function shippedPushBytes(nameBytes: number, ids: Uint32Array, grads: Float32Array): number {
  return HEADER_BYTES + ((nameBytes + 3) & ~3) + ids.byteLength + grads.byteLength;
}

/** The layout of the header above into `out` (exactly `shippedPushBytes` long). */
function fillShippedPush(out: Uint8Array, name: Buffer, ids: Uint32Array, grads: Float32Array): void {
  const b = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  b.writeUInt32LE(name.length, 4);
  b.writeUInt32LE(ids.length >>> 1, 8);
  const namePadded = (name.length + 3) & ~3;
  b.fill(0, HEADER_BYTES + name.length, HEADER_BYTES + namePadded);
  name.copy(b, HEADER_BYTES);
  let at = HEADER_BYTES + namePadded;
  b.set(new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength), at);
  at += ids.byteLength;
  b.set(new Uint8Array(grads.buffer, grads.byteOffset, grads.byteLength), at);
  b.writeUInt32LE(zlib.crc32(b.subarray(4)), 0);
}

/**
 * Checks one push's bytes and returns views of them (copied once when `bytes` is not 4-byte
 * aligned). `where` names it in errors.
 * @throws TesseraError INVALID_ARGUMENT for a bad length or CRC-32
 */
export function decodeShippedPush(bytes: Uint8Array, where: string): ShippedPush {
  const bad = (why: string) => new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `pushes: ${where} ${why}; the primary resends from a reset`);
  if (bytes.byteLength < HEADER_BYTES) throw bad(`is ${bytes.byteLength} bytes, shorter than its header`);
  const b = bytes.byteOffset % 4 === 0 ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) : Buffer.from(Uint8Array.from(bytes).buffer);
  if (zlib.crc32(b.subarray(4)) !== b.readUInt32LE(0)) throw bad('fails its CRC-32');
  const nameBytes = b.readUInt32LE(4);
  const rows = b.readUInt32LE(8);
  const idsAt = HEADER_BYTES + ((nameBytes + 3) & ~3);
  const gradBytes = b.byteLength - idsAt - 8 * rows;
  if (gradBytes < 0 || gradBytes % 4 !== 0 || (rows > 0 && (gradBytes / 4) % rows !== 0)) throw bad(`holds ${b.byteLength} bytes, not a whole push of ${rows} rows`);
  return {
    table: b.toString('utf8', HEADER_BYTES, HEADER_BYTES + nameBytes),
    ids: new Uint32Array(b.buffer, b.byteOffset + idsAt, 2 * rows),
    grads: new Float32Array(b.buffer, b.byteOffset + idsAt + 8 * rows, gradBytes / 4),
  };
}
