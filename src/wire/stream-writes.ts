/**
 * Backpressure for every server-streaming call. `call.write` only queues: a handler that writes
 * without waiting buffers its whole answer in memory when the client reads slowly, and after the
 * client has gone grpc-js drops each write without calling back, so a loop that waits for write
 * callbacks waits forever while one that does not keeps encoding for nobody. Here a writer waits
 * for 'drain' and stops as soon as the call is cancelled; a bidi handler stops reading requests
 * while its answers are not being read, so HTTP/2 flow control slows the client down.
 */
import type * as grpc from '@grpc/grpc-js';

/** A server call that streams answers (server streaming or bidi). */
type StreamingCall = grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>;

/** Resolves once `call` takes writes again ('drain') or is over (cancelled, closed or failed). */
function writableOrOver(call: StreamingCall): Promise<void> {
  if (call.cancelled || call.destroyed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      for (const ev of ['drain', 'cancelled', 'close', 'error']) call.off(ev, done);
      resolve();
    };
    for (const ev of ['drain', 'cancelled', 'close', 'error']) call.once(ev, done);
  });
}

/** How a streamed answer ended. */
export interface WriteOutcome {
  /** messages handed to grpc-js */
  written: number;
  /** the client cancelled (or the call closed) before every message was written */
  cancelled: boolean;
}

/**
 * Writes `messages` to `call` one by one, waiting for 'drain' whenever grpc-js's buffer is
 * full, and stops at once when the client cancels; ends the call when every message is written.
 *
 * ```ts
 * const { written, cancelled } = await writeAll(call, chunks());
 * ```
 */
export async function writeAll(call: StreamingCall, messages: Iterable<unknown>): Promise<WriteOutcome> {
  let written = 0;
  for (const m of messages) {
    if (call.cancelled || call.destroyed) return { written, cancelled: true };
    written++;
    if (!call.write(m)) await writableOrOver(call);
  }
  if (call.cancelled || call.destroyed) return { written, cancelled: true };
  call.end();
  return { written, cancelled: false };
}

/**
 * Writes one answer on a bidi call; when grpc-js's buffer is full, stops reading requests until
 * it drains (so a client that sends without reading is slowed by flow control, not answered
 * into an ever-growing buffer), and calls `onPause`.
 */
export function writeOrPause(call: grpc.ServerDuplexStream<unknown, unknown>, message: unknown, onPause?: () => void): void {
  if (call.write(message) || call.isPaused()) return;
  call.pause();
  onPause?.();
  void writableOrOver(call).then(() => {
    if (!call.cancelled && !call.destroyed) call.resume();
  });
}
