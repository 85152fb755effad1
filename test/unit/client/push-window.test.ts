import { expect } from 'chai';
import { PushWindow } from '../../../src/client/push-window';
import { createLogSink } from '../../helpers/log-sink';

/** A push whose completion the test controls. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

describe('PushWindow (bounded staleness)', () => {
  it('lets max_inflight pushes run, blocks the next one until the oldest finishes, and logs the throttle', async () => {
    const sink = createLogSink();
    const w = new PushWindow(2, sink.logger);
    const d = [deferred(), deferred(), deferred()];
    await w.admit(() => d[0].promise);
    await w.admit(() => d[1].promise);
    expect(w.size).to.equal(2);
    let third = false;
    const p = w.admit(() => d[2].promise).then(() => { third = true; });
    await sink.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('push window full'));
    expect(third).to.equal(false);
    expect(w.throttleCount).to.equal(1);
    d[0].resolve();
    await p;
    expect(third).to.equal(true);
    d[1].resolve();
    d[2].resolve();
    await w.drain();
    expect(w.size).to.equal(0);
  });

  it('max_inflight 0 is synchronous: admit resolves only after the push completes', async () => {
    const w = new PushWindow(0, createLogSink().logger);
    const d = deferred();
    let done = false;
    const p = w.admit(() => d.promise).then(() => { done = true; });
    await Promise.resolve();
    expect(done).to.equal(false);
    d.resolve();
    await p;
    expect(done).to.equal(true);
  });

  it('reports a failed background push on the next admit or drain, never losing it', async () => {
    const w = new PushWindow(4, createLogSink().logger);
    const d = deferred();
    await w.admit(() => d.promise);
    d.reject(new Error('ps-1 unavailable'));
    const err = await w.drain().then(() => null, (e) => e);
    expect(err?.message).to.equal('ps-1 unavailable');
    await w.drain(); // reported once
  });
});
