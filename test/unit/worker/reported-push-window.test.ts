/**
 * Issue 18 §3: push-window figures reported by one data thread after another (tessera train
 * starts one per epoch) add up: a new thread's client counts its throttles from 0 again.
 */
import { expect } from 'chai';
import { ReportedPushWindow } from '../../../src/worker/worker-metrics';

describe('ReportedPushWindow (issue 18)', () => {
  it('keeps the latest in-flight figure and adds the throttles of earlier threads', () => {
    const w = new ReportedPushWindow();
    w.update({ inflightPushes: 2, pushThrottles: 3 });
    w.update({ inflightPushes: 1, pushThrottles: 5 });
    expect(w.inflightPushes).to.equal(1);
    expect(w.pushThrottles).to.equal(5);
    w.update({ inflightPushes: 0, pushThrottles: 1 }); // the next epoch's thread
    expect(w.pushThrottles).to.equal(6);
    expect(w.inflightPushes).to.equal(0);
  });
});
