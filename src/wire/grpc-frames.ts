/**
 * gRPC's message framing on HTTP/2 (the "Length-Prefixed-Message" of the gRPC over HTTP/2
 * protocol), for the data plane served and called directly on `node:http2`
 * (src/wire/h2-data-server.ts, src/wire/h2-data-channel.ts): each message is a 1-byte
 * compressed flag, a 4-byte big-endian length, then the message bytes; a call ends with
 * `grpc-status` (and `grpc-message`) trailers.
 *
 * A received message is copied once into a buffer of its own, placed GRPC_FRAME_HEADER bytes into
 * a fresh ArrayBuffer exactly as grpc-js places it, so the codec's alignment of id, value and
 * gradient payloads (data-plane-codec.ts) holds on this path too and they decode as views.
 */
import { status } from '@grpc/grpc-js';
import { GRPC_FRAME_HEADER } from './proto-bytes';

/** Why a stream's bytes are not a message this side accepts (the caller answers with a status). */
export interface FrameRefusal {
  /** gRPC status code */
  code: number;
  details: string;
}

/**
 * Reassembles length-prefixed messages from a stream's DATA chunks and hands each whole message
 * to `onMessage`. A message longer than `limit` bytes, or one sent compressed (this side never
 * offers a compression, so a peer must not use one), is refused: `push` returns why and the
 * reader takes nothing more.
 *
 * ```ts
 * const reader = new MessageReader(64 << 20, (msg) => handle(msg));
 * stream.on('data', (chunk) => { const refused = reader.push(chunk); if (refused) fail(refused); });
 * ```
 */
export class MessageReader {
  private readonly header = Buffer.alloc(GRPC_FRAME_HEADER);
  private headerFill = 0;
  private message: Buffer | null = null;
  private messageFill = 0;
  private refused: FrameRefusal | null = null;

  /**
   * @param alloc where a message of `length` bytes is read into (default: a fresh buffer placed
   *   GRPC_FRAME_HEADER bytes into its own ArrayBuffer); answer-pool.ts reuses them
   */
  constructor(
    private readonly limit: number,
    private readonly onMessage: (msg: Buffer) => void,
    private readonly alloc: (length: number) => Buffer = (length) => Buffer.from(new ArrayBuffer(GRPC_FRAME_HEADER + length), GRPC_FRAME_HEADER, length),
  ) {}

  /** True while a message has been started but not completed (a stream that ends here was cut). */
  get midMessage(): boolean {
    return this.headerFill > 0 || this.message !== null;
  }

  /** Takes one chunk; returns the refusal when the stream carries a message this side refuses. */
  push(chunk: Buffer): FrameRefusal | null {
    let at = 0;
    while (at < chunk.length && !this.refused) {
      if (this.message === null) {
        const take = Math.min(GRPC_FRAME_HEADER - this.headerFill, chunk.length - at);
        chunk.copy(this.header, this.headerFill, at, at + take);
        this.headerFill += take;
        at += take;
        if (this.headerFill === GRPC_FRAME_HEADER) this.startMessage();
        continue;
      }
      const take = Math.min(this.message.length - this.messageFill, chunk.length - at);
      chunk.copy(this.message, this.messageFill, at, at + take);
      this.messageFill += take;
      at += take;
      if (this.messageFill === this.message.length) this.finishMessage();
    }
    return this.refused;
  }

  private startMessage(): void {
    this.headerFill = 0;
    const length = this.header.readUInt32BE(1);
    if (this.header[0] !== 0) {
      // grpc-js answers an encoding it does not support UNIMPLEMENTED; so does this side.
      this.refused = { code: status.UNIMPLEMENTED, details: 'compressed messages are not accepted (no grpc-encoding is offered)' };
      return;
    }
    if (length > this.limit) {
      this.refused = { code: status.RESOURCE_EXHAUSTED, details: `Received message larger than max (${length} vs. ${this.limit})` };
      return;
    }
    this.message = this.alloc(length);
    this.messageFill = 0;
    if (length === 0) this.finishMessage();
  }

  private finishMessage(): void {
    const msg = this.message!;
    this.message = null;
    this.onMessage(msg);
  }
}

/** `message` framed for the wire: a copy behind the 5-byte header. */
export function frameMessage(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(GRPC_FRAME_HEADER + message.byteLength);
  writeFrameHeader(frame, message.byteLength);
  frame.set(message, GRPC_FRAME_HEADER);
  return frame;
}

/** Writes the 5-byte header (uncompressed, `length`) at the start of `frame`. */
export function writeFrameHeader(frame: Buffer, length: number): void {
  frame[0] = 0;
  frame.writeUInt32BE(length, 1);
}

/**
 * `grpc-message` as the protocol spells it: percent-encoded UTF-8 outside printable ASCII
 * (and `%` itself), so any details text survives an HTTP/2 header.
 */
export function encodeGrpcMessage(details: string): string {
  return Buffer.from(details, 'utf8').reduce((s, b) => s + (b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`), '');
}

/** The reverse of encodeGrpcMessage (malformed escapes are kept as they are). */
export function decodeGrpcMessage(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

const TIMEOUT_UNITS_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 1e-3, n: 1e-6 };

/** Milliseconds of a `grpc-timeout` header (`100m`, `5S`, …); null when absent or malformed. */
export function parseGrpcTimeout(raw: string | string[] | undefined): number | null {
  const m = typeof raw === 'string' ? /^(\d{1,8})([HMSmun])$/.exec(raw) : null;
  return m ? Number(m[1]) * TIMEOUT_UNITS_MS[m[2]] : null;
}

/** A `grpc-timeout` header value for `ms` milliseconds. */
export function grpcTimeout(ms: number): string {
  return `${Math.max(1, Math.ceil(ms))}m`;
}
