/**
 * Hand-written protobuf codec for the data-plane messages of protos/tessera/v1/data_plane.proto.
 *
 * Why not protobufjs: its decoder copies every `bytes` field and its encoder builds the message
 * through an intermediate writer. On the hot path we want the id and value payloads as views of
 * the received buffer, and responses whose values are gathered straight into the outgoing
 * buffer. The output is ordinary protobuf, byte-compatible with the .proto (tested against
 * protobufjs in test/unit/wire/data-plane-codec.test.ts), so any gRPC client can talk to a PS.
 */
import {
  GRPC_FRAME_HEADER, MAX_PADDING, ProtoReader, ProtoWriter, bytesFieldSize, fixed64FieldSize, uintFieldSize, varintSize,
} from './proto-bytes';
import { writeFrameHeader } from './grpc-frames';
import type { StepTag } from './step-tag';

/** Wire encodings of values and gradients (enum tessera.v1.Encoding). */
export const enum Encoding {
  F32 = 0,
  F16 = 1,
}

/** An error carried in a streamed response (message tessera.v1.RpcError). */
export interface RpcErrorMsg {
  code: number;
  message: string;
  tesseraCode: string;
}

export interface PullRequestMsg {
  table: string;
  shardMapVersion: number;
  ids: Uint8Array;
  encoding: Encoding;
  requestId: number;
  /** Evaluation/serving pull: missing rows are not created. */
  readOnly?: boolean;
  /** The table incarnation the client knows; 0 or absent: not checked by the PS. */
  tableIncarnation?: number;
  /** Also return each row's version (push staleness). */
  wantVersions?: boolean;
  /** Size of the encoded message; set by the decoder, used for the request-size limit. */
  encodedBytes?: number;
  /** Set by the decoder when the bytes are not a valid message: why (the fields read before stay). */
  malformed?: string;
}

export interface PullResponseMsg {
  requestId: number;
  values: Uint8Array;
  dim: number;
  encoding: Encoding;
  error?: RpcErrorMsg;
  /** Each row's version as read (packed u32), when the request wanted versions. */
  versions?: Uint8Array;
  /** Pre-encoded form; when present the serializer sends it as is. */
  encoded?: Buffer;
  /** `encoded` behind its gRPC frame header (allocPullResponse), for the node:http2 data plane. */
  frame?: Buffer;
  /**
   * Set on answers read into a reused buffer (the node:http2 client, answer-pool.ts): call it
   * once nothing reads `values` or `versions` any more, and never read them after.
   */
  release?: () => void;
}

export interface PushRequestMsg {
  table: string;
  shardMapVersion: number;
  ids: Uint8Array;
  grads: Uint8Array;
  encoding: Encoding;
  requestId: number;
  /** As in PullRequestMsg. */
  tableIncarnation?: number;
  /** Also return each row's version before this push (push staleness). */
  wantVersions?: boolean;
  /** Random id of the sending client (idempotent pushes); 0n or absent: not deduplicated. */
  clientId?: bigint;
  /** The client's sequence number of this push to this PS, from 1; a retry repeats it. */
  pushSeq?: number;
  /** The worker step this push belongs to (ADR 0040); absent: untagged, never held by a cut. */
  stepTag?: StepTag;
  encodedBytes?: number;
  /** As PullRequestMsg.malformed. */
  malformed?: string;
}

export interface PushResponseMsg {
  requestId: number;
  rowsApplied: number;
  error?: RpcErrorMsg;
  /** Each id's row version just before this push (packed u32), when the request wanted versions. */
  versions?: Uint8Array;
}

const EMPTY = new Uint8Array(0);

/**
 * Where an encoder writes a message of at most `size` bytes: by default a fresh buffer; the
 * node:http2 data plane passes AnswerPool.take, whose buffers have room for the gRPC frame
 * header just before them.
 */
export type MessageAlloc = (size: number) => Buffer;

const freshBuffer: MessageAlloc = (size) => Buffer.allocUnsafe(size);

function encodeRpcError(w: ProtoWriter, field: number, e: RpcErrorMsg): void {
  const inner = new ProtoWriter();
  inner.uint(1, e.code).string(2, e.message).string(3, e.tesseraCode);
  w.bytes(field, inner.finish());
}

function decodeRpcError(buf: Uint8Array): RpcErrorMsg {
  const r = new ProtoReader(buf);
  const e: RpcErrorMsg = { code: 0, message: '', tesseraCode: '' };
  while (r.more()) {
    const f = r.tag();
    if (f === 1) e.code = r.varint();
    else if (f === 2) e.message = r.string();
    else if (f === 3) e.tesseraCode = r.string();
    else r.skip();
  }
  return e;
}

/** Encodes a PullRequest into a buffer from `alloc`. */
export function encodePullRequest(m: PullRequestMsg, alloc: MessageAlloc = freshBuffer): Buffer {
  const size = bytesFieldSize(1, Buffer.byteLength(m.table)) + uintFieldSize(2, m.shardMapVersion)
    + bytesFieldSize(3, m.ids.byteLength) + uintFieldSize(4, m.encoding) + uintFieldSize(5, m.requestId)
    + uintFieldSize(6, 1) + uintFieldSize(7, m.tableIncarnation ?? 0) + uintFieldSize(8, 1) + MAX_PADDING;
  const w = new ProtoWriter(alloc(size))
    .string(1, m.table)
    .uint(2, m.shardMapVersion)
    .uint(4, m.encoding)
    .uint(5, m.requestId)
    .uint(6, m.readOnly ? 1 : 0)
    .uint(7, m.tableIncarnation ?? 0);
  // Written only when set, so an ordinary pull is byte for byte what it was before the field.
  if (m.wantVersions) w.uint(8, 1);
  return w.alignNext(3, m.ids.byteLength, GRPC_FRAME_HEADER).bytes(3, m.ids).finish();
}

/**
 * Reads every field of a request with `field`; bytes that are not a valid message set
 * `m.malformed` instead of throwing. A request decoder must never throw: grpc-js answers a
 * throwing deserializer with INTERNAL and ends the whole stream, so one bad message on a
 * PullStream would fail every request behind it. This way the handler answers that one request
 * INVALID_ARGUMENT (with its request id when it was read before the damage) and the stream goes on.
 */
function readFields(r: ProtoReader, m: { malformed?: string }, field: (f: number) => void): void {
  try {
    while (r.more()) field(r.tag());
  } catch (err) {
    m.malformed = err instanceof Error ? err.message : String(err);
  }
}

/** Decodes a PullRequest; never throws (see `readFields`). */
export function decodePullRequest(buf: Buffer): PullRequestMsg {
  const r = new ProtoReader(buf);
  const m: PullRequestMsg = {
    table: '', shardMapVersion: 0, ids: EMPTY, encoding: Encoding.F32, requestId: 0,
    encodedBytes: buf.byteLength,
  };
  readFields(r, m, (f) => {
    if (f === 1) m.table = r.string();
    else if (f === 2) m.shardMapVersion = r.varint();
    else if (f === 3) m.ids = r.bytes();
    else if (f === 4) m.encoding = r.varint();
    else if (f === 5) m.requestId = r.varint();
    else if (f === 6) m.readOnly = r.varint() !== 0;
    else if (f === 7) m.tableIncarnation = r.varint();
    else if (f === 8) m.wantVersions = r.varint() !== 0;
    else r.skip();
  });
  return m;
}

/** Encodes a PushRequest into a buffer from `alloc`. */
export function encodePushRequest(m: PushRequestMsg, alloc: MessageAlloc = freshBuffer): Buffer {
  const size = bytesFieldSize(1, Buffer.byteLength(m.table)) + uintFieldSize(2, m.shardMapVersion)
    + bytesFieldSize(3, m.ids.byteLength) + bytesFieldSize(4, m.grads.byteLength)
    + uintFieldSize(5, m.encoding) + uintFieldSize(6, m.requestId) + uintFieldSize(7, m.tableIncarnation ?? 0)
    + uintFieldSize(8, 1) + fixed64FieldSize(9) + uintFieldSize(10, m.pushSeq ?? 0) + stepTagSize(m.stepTag) + 2 * MAX_PADDING;
  const w = new ProtoWriter(alloc(size))
    .string(1, m.table)
    .uint(2, m.shardMapVersion)
    .uint(5, m.encoding)
    .uint(6, m.requestId)
    .uint(7, m.tableIncarnation ?? 0);
  if (m.wantVersions) w.uint(8, 1);
  // Written only when set, so a push of a client without dedup is byte for byte what it was.
  if (m.clientId && m.pushSeq) w.fixed64(9, m.clientId).uint(10, m.pushSeq);
  const t = m.stepTag;
  if (t) w.fixed64(11, t.client).uint(12, t.step).uint(13, t.parts).uint(14, t.ackedThrough).bytes(16, t.positions);
  return w
    .alignNext(3, m.ids.byteLength, GRPC_FRAME_HEADER)
    .bytes(3, m.ids)
    .alignNext(4, m.grads.byteLength, GRPC_FRAME_HEADER)
    .bytes(4, m.grads)
    .finish();
}

/** Decodes a PushRequest; never throws (see `readFields`). */
export function decodePushRequest(buf: Buffer): PushRequestMsg {
  const r = new ProtoReader(buf);
  const m: PushRequestMsg = {
    table: '', shardMapVersion: 0, ids: EMPTY, grads: EMPTY, encoding: Encoding.F32,
    requestId: 0, encodedBytes: buf.byteLength,
  };
  readFields(r, m, (f) => {
    if (f === 1) m.table = r.string();
    else if (f === 2) m.shardMapVersion = r.varint();
    else if (f === 3) m.ids = r.bytes();
    else if (f === 4) m.grads = r.bytes();
    else if (f === 5) m.encoding = r.varint();
    else if (f === 6) m.requestId = r.varint();
    else if (f === 7) m.tableIncarnation = r.varint();
    else if (f === 8) m.wantVersions = r.varint() !== 0;
    else if (f === 9) m.clientId = r.fixed64();
    else if (f === 10) m.pushSeq = r.varint();
    else if (f >= 11 && f <= 16 && f !== 15) readStepField(r, f, (m.stepTag ??= { client: 0n, step: 0, parts: 0, ackedThrough: 0, positions: EMPTY }));
    else r.skip();
  });
  // A tag without a client or a step is no tag (its fields' zero values).
  if (m.stepTag && !(m.stepTag.client && m.stepTag.step)) m.stepTag = undefined;
  return m;
}

/** Encoded size of a push's step tag (fields 11-14, 16). */
function stepTagSize(t: StepTag | undefined): number {
  if (!t) return 0;
  return fixed64FieldSize(11) + uintFieldSize(12, t.step) + uintFieldSize(13, t.parts) + uintFieldSize(14, t.ackedThrough) + bytesFieldSize(16, t.positions.byteLength);
}

function readStepField(r: ProtoReader, f: number, t: StepTag): void {
  if (f === 11) t.client = r.fixed64();
  else if (f === 12) t.step = r.varint();
  else if (f === 13) t.parts = r.varint();
  else if (f === 14) t.ackedThrough = r.varint();
  else t.positions = r.bytes();
}

export function encodePullResponse(m: PullResponseMsg): Buffer {
  if (m.encoded) return m.encoded;
  const w = new ProtoWriter().uint(1, m.requestId).bytes(2, m.values).uint(3, m.dim).uint(4, m.encoding);
  if (m.error) encodeRpcError(w, 5, m.error);
  if (m.versions) w.bytes(6, m.versions);
  return w.finish();
}

/**
 * Allocates an encoded PullResponse whose `values` payload (`valueBytes` long) is 4-byte aligned
 * both here, so the PS gathers rows straight into it through a typed view, and where the client
 * reads it (gRPC puts a received message 5 bytes into a fresh buffer), so the client decodes
 * values as a view too. The message starts 1 byte into its ArrayBuffer (1 ≡ 5 mod 4), and a
 * padding field before `values` fixes the payload offset; protobuf allows any field order.
 * With `versionRows` > 0 (a pull that wanted versions), a `versions` region of that many u32
 * follows, aligned the same way. The message is placed GRPC_FRAME_HEADER bytes into its buffer
 * (5 ≡ 1 mod 4) and `frame` is the same bytes behind their gRPC frame header, so the node:http2
 * data plane (src/wire/h2-data-server.ts) sends a pull without copying it. With `alloc`
 * (AnswerPool.take) the message goes into a reused buffer, which must then be at offset
 * GRPC_FRAME_HEADER of its ArrayBuffer.
 */
export function allocPullResponse(
  requestId: number, dim: number, encoding: Encoding, valueBytes: number, versionRows = 0, alloc?: MessageAlloc,
): { encoded: Buffer; frame: Buffer; values: Uint8Array; versions: Uint32Array | null } {
  const versionBytes = 4 * versionRows;
  const size = MAX_PADDING + bytesFieldSize(2, valueBytes) + uintFieldSize(1, requestId)
    + uintFieldSize(3, dim) + uintFieldSize(4, encoding) + (versionRows > 0 ? MAX_PADDING + bytesFieldSize(6, versionBytes) : 0);
  const START = GRPC_FRAME_HEADER;
  const ab = alloc ? framedArrayBuffer(alloc(size)) : new ArrayBuffer(START + size);
  const w = new ProtoWriter(Buffer.from(ab, START, size));
  w.alignNext(2, valueBytes, GRPC_FRAME_HEADER).lengthHeader(2, valueBytes);
  const values = new Uint8Array(ab, START + w.position, valueBytes);
  w.advance(valueBytes);
  let versions: Uint32Array | null = null;
  if (versionRows > 0) {
    w.alignNext(6, versionBytes, GRPC_FRAME_HEADER).lengthHeader(6, versionBytes);
    versions = new Uint32Array(ab, START + w.position, versionRows);
    w.advance(versionBytes);
  }
  w.uint(1, requestId).uint(3, dim).uint(4, encoding);
  const encoded = w.finish();
  const frame = Buffer.from(ab, 0, START + encoded.length);
  writeFrameHeader(frame, encoded.length);
  return { encoded, frame, values, versions };
}

/** The ArrayBuffer of a buffer placed GRPC_FRAME_HEADER bytes into it (AnswerPool.take). */
function framedArrayBuffer(b: Buffer): ArrayBuffer {
  if (b.byteOffset !== GRPC_FRAME_HEADER) throw new RangeError(`allocPullResponse: a buffer at offset ${b.byteOffset}, expected ${GRPC_FRAME_HEADER}`);
  return b.buffer as ArrayBuffer;
}

export function decodePullResponse(buf: Buffer): PullResponseMsg {
  const r = new ProtoReader(buf);
  const m: PullResponseMsg = { requestId: 0, values: EMPTY, dim: 0, encoding: Encoding.F32 };
  while (r.more()) {
    const f = r.tag();
    if (f === 1) m.requestId = r.varint();
    else if (f === 2) m.values = r.bytes();
    else if (f === 3) m.dim = r.varint();
    else if (f === 4) m.encoding = r.varint();
    else if (f === 5) m.error = decodeRpcError(r.bytes());
    else if (f === 6) m.versions = r.bytes();
    else r.skip();
  }
  return m;
}

export function encodePushResponse(m: PushResponseMsg): Buffer {
  const w = new ProtoWriter().uint(1, m.requestId).uint(2, m.rowsApplied);
  if (m.error) encodeRpcError(w, 3, m.error);
  if (m.versions) w.alignNext(4, m.versions.byteLength, GRPC_FRAME_HEADER).bytes(4, m.versions);
  return w.finish();
}

export function decodePushResponse(buf: Buffer): PushResponseMsg {
  const r = new ProtoReader(buf);
  const m: PushResponseMsg = { requestId: 0, rowsApplied: 0 };
  while (r.more()) {
    const f = r.tag();
    if (f === 1) m.requestId = r.varint();
    else if (f === 2) m.rowsApplied = r.varint();
    else if (f === 3) m.error = decodeRpcError(r.bytes());
    else if (f === 4) m.versions = r.bytes();
    else r.skip();
  }
  return m;
}
