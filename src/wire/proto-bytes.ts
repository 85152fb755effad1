/**
 * Minimal protobuf wire-format primitives for the hand-written hot-path codec.
 * Supports varint (wire type 0), fixed64 (wire type 1, as a bigint) and length-delimited (wire
 * type 2) fields, which is all the data-plane messages use; unknown fields of any wire type are
 * skipped on read. Varint integers are JS numbers and must stay below 2^53.
 */
import { TesseraError, ERROR_CODES } from '../common/errors';

/** Field number reserved in every data-plane message for alignment padding. */
export const PADDING_FIELD = 15;

/** Most bytes one alignNext() call adds. */
export const MAX_PADDING = 5;

/** Offset at which gRPC receivers place a message in its buffer (compress flag + length). */
export const GRPC_FRAME_HEADER = 5;

/** Bytes a varint encoding of `v` takes. */
export function varintSize(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Encoded size of a varint field. */
export function uintFieldSize(field: number, v: number): number {
  return varintSize(field << 3) + varintSize(v);
}

/** Encoded size of a fixed64 field. */
export function fixed64FieldSize(field: number): number {
  return varintSize((field << 3) | 1) + 8;
}

/** Encoded size of a length-delimited field with a payload of `len` bytes. */
export function bytesFieldSize(field: number, len: number): number {
  return varintSize((field << 3) | 2) + varintSize(len) + len;
}

/** Writes fields into a buffer; grows by doubling if constructed without one. */
export class ProtoWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(buf?: Buffer) {
    this.buf = buf ?? Buffer.allocUnsafe(64);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  private rawVarint(v: number): void {
    this.ensure(varintSize(v));
    while (v >= 128) {
      this.buf[this.pos++] = (v % 128) | 128;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }

  uint(field: number, v: number): this {
    this.rawVarint(field << 3);
    this.rawVarint(v);
    return this;
  }

  /** Writes a fixed64 field: `v` (taken mod 2^64) as 8 little-endian bytes. */
  fixed64(field: number, v: bigint): this {
    this.rawVarint((field << 3) | 1);
    this.ensure(8);
    this.buf.writeBigUInt64LE(BigInt.asUintN(64, v), this.pos);
    this.pos += 8;
    return this;
  }

  /** Writes the tag and length of a length-delimited field, without the payload. */
  lengthHeader(field: number, len: number): this {
    this.rawVarint((field << 3) | 2);
    this.rawVarint(len);
    return this;
  }

  bytes(field: number, data: Uint8Array): this {
    this.lengthHeader(field, data.byteLength);
    this.ensure(data.byteLength);
    this.buf.set(data, this.pos);
    this.pos += data.byteLength;
    return this;
  }

  string(field: number, s: string): this {
    const len = Buffer.byteLength(s);
    this.lengthHeader(field, len);
    this.ensure(len);
    this.pos += this.buf.write(s, this.pos);
    return this;
  }

  /**
   * Before a length-delimited field of `len` bytes, writes a padding field (field
   * {@link PADDING_FIELD}, ignored by every decoder) so that the payload will start at a
   * multiple of 4 bytes from `base` bytes before this writer's start. gRPC receivers place a
   * message 5 bytes into a fresh buffer (after the frame header), so base = 5 makes payloads
   * aligned where they are read, and typed-array views replace copies. Costs at most 5 bytes.
   */
  alignNext(field: number, len: number, base: number): this {
    const head = varintSize((field << 3) | 2) + varintSize(len);
    let p = (4 - ((base + this.pos + head) % 4)) % 4;
    if (p === 0) return this;
    if (p < 2) p += 4; // the smallest padding field is 2 bytes (tag + zero length)
    this.ensure(p);
    this.buf[this.pos++] = (PADDING_FIELD << 3) | 2;
    this.buf[this.pos++] = p - 2;
    this.buf.fill(0, this.pos, this.pos + p - 2);
    this.pos += p - 2;
    return this;
  }

  /** The next `n` bytes, for the caller to fill in now (a view, valid until the writer grows). */
  reserve(n: number): Uint8Array {
    this.ensure(n);
    this.pos += n;
    return this.buf.subarray(this.pos - n, this.pos);
  }

  /** Appends `data` as it is (bytes already in the wire format, e.g. another encoder's fields). */
  raw(data: Uint8Array): this {
    this.ensure(data.byteLength);
    this.buf.set(data, this.pos);
    this.pos += data.byteLength;
    return this;
  }

  /** Drops everything written after the first `pos` bytes. */
  truncate(pos: number): this {
    this.pos = Math.min(this.pos, pos);
    return this;
  }

  /** Bytes the writer holds before it must grow (a caller reusing it may drop one grown too large). */
  get capacity(): number {
    return this.buf.length;
  }

  /** Skips `n` bytes the caller fills in itself. */
  advance(n: number): this {
    this.ensure(n);
    this.pos += n;
    return this;
  }

  /** Bytes written so far. */
  get position(): number {
    return this.pos;
  }

  /** The written bytes (a view, not a copy). */
  finish(): Buffer {
    return this.pos === this.buf.length ? this.buf : this.buf.subarray(0, this.pos);
  }
}

function malformed(what: string): TesseraError {
  return new TesseraError(ERROR_CODES.INVALID_ARGUMENT, `malformed protobuf message: ${what}`);
}

/** Reads fields from a buffer. `bytes()` returns plain Uint8Array views into it, never copies. */
export class ProtoReader {
  private pos = 0;
  private wireType = 0;

  constructor(private readonly buf: Uint8Array) {}

  more(): boolean {
    return this.pos < this.buf.length;
  }

  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) throw malformed('truncated varint');
      const b = this.buf[this.pos++];
      result += (b & 127) * mul;
      if (b < 128) return result;
      mul *= 128;
    }
    throw malformed('varint longer than 10 bytes');
  }

  /** Reads a tag and returns its field number. */
  tag(): number {
    const t = this.varint();
    this.wireType = t & 7;
    return Math.floor(t / 8);
  }

  /** Reads the value of a fixed64 field as an unsigned bigint. */
  fixed64(): bigint {
    if (this.wireType !== 1) throw malformed(`expected a fixed64 field, got wire type ${this.wireType}`);
    if (this.pos + 8 > this.buf.length) throw malformed('truncated fixed64');
    const b = this.buf;
    const p = this.pos;
    const lo = (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
    const hi = (b[p + 4] | (b[p + 5] << 8) | (b[p + 6] << 16) | (b[p + 7] << 24)) >>> 0;
    this.pos += 8;
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  bytes(): Uint8Array {
    if (this.wireType !== 2) throw malformed(`expected a length-delimited field, got wire type ${this.wireType}`);
    const len = this.varint();
    if (this.pos + len > this.buf.length) throw malformed(`field of ${len} bytes overruns the message`);
    // A plain Uint8Array view even when `buf` is a Buffer (a received message is): Buffer's
    // `slice()` returns a view where a Uint8Array's copies, so a caller that copies a field with
    // `slice()` would keep a view of a buffer the transport reuses (issue 18, ADR 0045).
    const out = new Uint8Array(this.buf.buffer, this.buf.byteOffset + this.pos, len);
    this.pos += len;
    return out;
  }

  string(): string {
    const b = this.bytes();
    return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
  }

  /** Skips the value of the field whose tag was just read. */
  skip(): void {
    switch (this.wireType) {
      case 0: this.varint(); break;
      case 1: this.pos += 8; break;
      case 2: this.bytes(); break;
      case 5: this.pos += 4; break;
      default: throw malformed(`unsupported wire type ${this.wireType}`);
    }
    if (this.pos > this.buf.length) throw malformed('truncated field');
  }
}
