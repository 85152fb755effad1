import { expect } from 'chai';
import { planAssignments } from '../../../src/chief/scheduler';
import type { Assignment, JobState, Progress } from '../../../src/control/job-types';

function state(shards: number, epoch = 0): JobState {
  return {
    epoch, epochs: 2, phase: 'train', samplesBefore: 0, stepsBefore: 0, trainSecondsBefore: 0, epochStartedAt: '2026-01-01T00:00:00Z', evals: [],
    shards: Array.from({ length: shards }, (_, id) => ({ id, path: 'f', start: id * 10, end: id * 10 + 10, gzip: false })),
  };
}
const a = (shard: number, worker: string, incarnation = `${worker}-i1`, epoch = 0): Assignment => ({ shard, worker, incarnation, epoch });
const p = (shard: number, rows: number, done: boolean, epoch = 0): Progress => ({ shard, epoch, next: shard * 10 + rows, rows, steps: 1, done, loss: null, worker: 'w' });
const live = (...ids: string[]) => ids.map((id) => ({ id, incarnation: `${id}-i1` }));

describe('chief scheduler (planAssignments)', () => {
  it('gives each idle worker one pending shard, lowest ids first', () => {
    const plan = planAssignments(state(4), live('w1', 'w0'), new Map(), new Map());
    expect(plan.revoke).to.deep.equal([]);
    expect(plan.assign).to.deep.equal([a(0, 'w0'), a(1, 'w1')]);
    expect(plan.epochDone).to.equal(false);
  });

  it('takes back the shard of a worker whose incarnation is gone and hands it on, partly read shards first', () => {
    const assignments = new Map([[2, a(2, 'w0')], [0, a(0, 'w1')]]);
    const progress = new Map([[2, p(2, 5, false)]]);
    const plan = planAssignments(state(4), [{ id: 'w0', incarnation: 'w0-i2' }, { id: 'w1', incarnation: 'w1-i1' }], assignments, progress);
    expect(plan.revoke).to.deep.equal([a(2, 'w0')]);
    // w0 (new incarnation) is idle; shard 2 was partly read, so it goes before shard 1.
    expect(plan.assign).to.deep.equal([a(2, 'w0', 'w0-i2')]);
  });

  it('revokes assignments of finished shards and of other epochs, and reports the epoch done', () => {
    const assignments = new Map([[0, a(0, 'w0')], [1, a(1, 'w1', 'w1-i1', 0)]]);
    const progress = new Map([[0, p(0, 10, true, 1)], [1, p(1, 10, true, 1)]]);
    const plan = planAssignments(state(2, 1), live('w0', 'w1'), assignments, progress);
    expect(plan.revoke.map((x) => x.shard)).to.deep.equal([0, 1]);
    expect(plan.assign).to.deep.equal([]);
    expect(plan.shardsDone).to.equal(2);
    expect(plan.epochDone).to.equal(true);
  });

  it('ignores progress of an earlier epoch: those shards are pending again', () => {
    const plan = planAssignments(state(2, 1), live('w0'), new Map(), new Map([[0, p(0, 10, true, 0)]]));
    expect(plan.shardsDone).to.equal(0);
    expect(plan.assign).to.deep.equal([a(0, 'w0', 'w0-i1', 1)]);
  });

  it('assigns nothing while every worker is busy, and nothing to no workers', () => {
    expect(planAssignments(state(3), live('w0'), new Map([[0, a(0, 'w0')]]), new Map()).assign).to.deep.equal([]);
    expect(planAssignments(state(3), [], new Map(), new Map()).assign).to.deep.equal([]);
  });
});
