/**
 * Reused receive buffers for pull answers on the node:http2 data plane (ADR 0038). Each answer
 * of a pull is about 256 KiB per PS for an 8,192-row batch; a fresh ArrayBuffer per answer is
 * external memory V8 counts towards its next full collection, and in the client's profile GC was
 * the largest single cost after the transport. A caller that has copied an answer's rows out
 * (the data client, once it has stitched them) gives its buffer back; an answer never given
 * back is simply collected.
 */
import { GRPC_FRAME_HEADER } from './proto-bytes';

/** Buffers kept for reuse at most; beyond it a given-back buffer is left to the GC. */
const MAX_KEPT = 16;

/** Smallest buffer worth keeping: below it a fresh allocation costs nothing that matters. */
const MIN_POOLED_BYTES = 64 * 1024;

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

  /** Gives back a buffer `take` returned; the caller must not read it afterwards. */
  give(message: Uint8Array): void {
    const ab = message.buffer as ArrayBuffer;
    if (ab.byteLength >= MIN_POOLED_BYTES && this.free.length < MAX_KEPT && !this.free.includes(ab)) this.free.push(ab);
  }
}
