/**
 * Issue 17: the chief's evaluation gives way to a PS change, so that a PS killed while the chief
 * evaluates is failed over to its buddy instead of the evaluation's pulls waiting for it.
 */
import { expect } from 'chai';
import { needsReattach } from '../../../src/chief/job-failure';
import { PsChanges } from '../../../src/chief/ps-change-race';

describe('PsChanges: work against the PS gives way to a PS change (issue 17)', () => {
  it('resolves with the work when no PS changes', async () => {
    const changes = new PsChanges();
    expect(await changes.race(Promise.resolve(42))).to.equal(42);
    changes.notify(); // nothing waits any more: no effect, no unhandled rejection
  });

  it('a change while the work runs ends the wait with an error the chief attaches the PS again for', async () => {
    const changes = new PsChanges();
    let fail: (e: Error) => void = () => undefined;
    const work = new Promise<number>((_, reject) => { fail = reject; });
    const raced = changes.race(work);
    changes.notify();
    const err = await raced.then(() => undefined, (e: unknown) => e);
    expect(needsReattach(err), String(err)).to.equal(true);
    expect((err as Error).message).to.match(/a parameter server joined or left during the evaluation/);
    fail(new Error('the closed client fails the pulls later')); // ignored: no unhandled rejection
    await new Promise((r) => setImmediate(r));
  });

  it('a change only ends the work started before it', async () => {
    const changes = new PsChanges();
    changes.notify();
    expect(await changes.race(Promise.resolve('after'))).to.equal('after');
  });

  it('the work failing first fails the race with its own error', async () => {
    const changes = new PsChanges();
    const err = await changes.race(Promise.reject(new Error('pull failed'))).then(() => undefined, (e: Error) => e.message);
    expect(err).to.equal('pull failed');
  });
});
