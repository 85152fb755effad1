/**
 * Reused message buffers on the node:http2 data plane (ADR 0038, ADR 0045): the client's pull
 * answers and its encoded requests, the PS's received requests and its pull answers. Each is
 * tens to hundreds of KiB for an 8,192-row batch (a pull answer about 256 KiB per PS, a push
 * request about 290 KiB); a fresh ArrayBuffer per message is external memory V8 counts towards
 * its next collection, and GC was the largest single cost in both processes' profiles. Whoever
 * is done with a buffer gives it back: the data client once it has stitched an answer's rows
 * out, the channel or the server once HTTP/2 has written a message to the socket (the write's
 * callback), the server once a request was answered synchronously. A buffer never given back is
 * simply collected.
 */
import { GRPC_FRAME_HEADER } from './proto-bytes';

/** Buffers kept for reuse at most; beyond it a given-back buffer is left to the GC. */
const MAX_KEPT = 16;

/** Smallest buffer worth keeping (a pull request of 4,096 ids is 32 KiB): below it a fresh allocation costs little. */
const MIN_POOLED_BYTES = 16 * 1024;

/** Where `takeF32`'s floats start in their ArrayBuffer: the first multiple of 4 past the frame header. */
const F32_START = 8;

/**
 * Message buffers placed GRPC_FRAME_HEADER bytes into their ArrayBuffer (as grpc-js places a
 * received message, so the codec's aligned views hold), from a small free list of capacities
 * rounded up to a power of two.
 *
 * ```ts
 * const pool = new AnswerPool();
 * const msg = pool.take(300_000);   // Buffer of 300,000 bytes
 * pool.give(msg);                    // once nothing reads it any more
 * ```
 */
export class AnswerPool {
  private readonly free: ArrayBuffer[] = [];

  /** A buffer of `length` bytes, reused when one large enough was given back. */
  take(length: number): Buffer {
    const need = GRPC_FRAME_HEADER + length;
    if (need < MIN_POOLED_BYTES) return Buffer.from(new ArrayBuffer(need), GRPC_FRAME_HEADER, length);
    const i = this.free.findIndex((ab) => ab.byteLength >= need);
    const ab = i >= 0 ? this.free.splice(i, 1)[0] : new ArrayBuffer(2 ** Math.ceil(Math.log2(need)));
    return Buffer.from(ab, GRPC_FRAME_HEADER, length);
  }

  /**
   * `length` floats, 8 bytes into a buffer of the pool (aligned for a Float32Array), for rows
   * gathered before they are encoded; give it back with `give` like any other.
   */
  takeF32(length: number): Float32Array {
    return new Float32Array(this.takeWords(length), F32_START, length);
  }

  /**
   * `length` uint32 words, aligned as `takeF32`'s floats: the ids and positions of a batch's
   * slices (sliceByOwner's `alloc`); give it back with `give` like any other.
   */
  takeU32(length: number): Uint32Array {
    return new Uint32Array(this.takeWords(length), F32_START, length);
  }

  /** The ArrayBuffer of a buffer with room for `length` 4-byte words from F32_START. */
  private takeWords(length: number): ArrayBuffer {
    return this.take(4 * length + F32_START - GRPC_FRAME_HEADER).buffer as ArrayBuffer;
  }

  /** Gives back a buffer `take`, `takeF32` or `takeU32` returned; the caller must not read it afterwards. */
  give(message: ArrayBufferView): void {
    const ab = message.buffer as ArrayBuffer;
    if (ab.byteLength >= MIN_POOLED_BYTES && this.free.length < MAX_KEPT && !this.free.includes(ab)) this.free.push(ab);
  }
}
