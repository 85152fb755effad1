/**
 * Issue 21 (cost of asynchrony): the job-wide push budget rule. One worker alone keeps the spec's
 * `max_inflight_pushes`; workers training at once share `max_inflight_pushes + 1` steps in flight.
 */
import { expect } from 'chai';
import { jobPushWindow, workersTraining } from '../../../src/worker/job-push-window';

describe('jobPushWindow (issue 21)', () => {
  it('gives a worker alone the spec\'s bound', () => {
    for (const k of [0, 1, 2, 8, 64]) expect(jobPushWindow(k, 1)).to.equal(k);
  });

  it('makes 2 and 4 workers of the shipped examples (2 in flight) push synchronously', () => {
    expect(jobPushWindow(2, 2)).to.equal(0);
    expect(jobPushWindow(2, 4)).to.equal(0);
  });

  it('shares a larger budget: 8 in flight over 3 workers leaves 2 each, over 9 or more none', () => {
    expect(jobPushWindow(8, 3)).to.equal(2);
    expect(jobPushWindow(8, 4)).to.equal(1);
    expect(jobPushWindow(8, 9)).to.equal(0);
    expect(jobPushWindow(8, 100)).to.equal(0);
  });

  it('never lets workers together exceed the budget of one worker alone', () => {
    for (let k = 0; k <= 16; k++) {
      for (let w = 1; w <= 16; w++) {
        const each = jobPushWindow(k, w);
        if (each > 0) expect(w * (each + 1)).to.be.at.most(k + 1);
      }
    }
  });

  it('counts a worker with no assignment seen yet as alone', () => {
    expect(jobPushWindow(2, 0)).to.equal(2);
  });
});

describe('workersTraining (issue 21)', () => {
  const a = (shard: number, worker: string, epoch: number) => ({ shard, worker, epoch, incarnation: 'i' });

  it('counts distinct workers holding an assignment of the epoch', () => {
    expect(workersTraining([a(0, 'w0', 1), a(1, 'w1', 1), a(2, 'w0', 1), a(3, 'w2', 0)], 1)).to.equal(2);
  });

  it('is at least 1', () => {
    expect(workersTraining([], 0)).to.equal(1);
    expect(workersTraining([a(0, 'w0', 0)], 1)).to.equal(1);
  });
});
