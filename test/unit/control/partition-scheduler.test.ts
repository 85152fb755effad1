/**
 * Issue #15 §1: the chief hands a stream job's partitions to workers the way it hands out file
 * shards, but a partition is never done, so every partition is held and a worker holds its share.
 */
import { expect } from 'chai';
import { planStreamPartitions } from '../../../src/chief/data-shards';
import { planPartitionAssignments } from '../../../src/chief/partition-scheduler';
import { Assignment, isStreamJob, JobState, parseJobState, parseProgress } from '../../../src/control/job-types';

function state(partitions: number): JobState {
  return {
    epoch: 0, epochs: 1, phase: 'train', samplesBefore: 0, stepsBefore: 0, trainSecondsBefore: 0, epochStartedAt: '2026-01-01T00:00:00Z', evals: [],
    shards: planStreamPartitions('redis-stream://127.0.0.1:6379/clicks', partitions),
  };
}
const a = (shard: number, worker: string, incarnation = `${worker}-i1`): Assignment => ({ shard, worker, incarnation, epoch: 0 });
const live = (...ids: string[]) => ids.map((id) => ({ id, incarnation: `${id}-i1` }));

describe('stream partition hand-out (issue #15)', () => {
  it('plans one stream shard per partition KEY:n, stored and parsed back as a stream job', () => {
    const s = state(3);
    expect(s.shards.map((x) => x.path)).to.deep.equal([0, 1, 2].map((n) => `redis-stream://127.0.0.1:6379/clicks%3A${n}`));
    expect(isStreamJob(s)).to.equal(true);
    expect(isStreamJob(parseJobState(JSON.stringify(s)))).to.equal(true);
    const p = { shard: 1, epoch: 0, next: 0, entry: '1700000000000-3', rows: 5, steps: 1, done: false, loss: null, worker: 'w0' };
    expect(parseProgress(JSON.stringify(p))).to.deep.equal(p);
    expect(() => planStreamPartitions('redis-stream://h:1/k', 0)).to.throw(/--partitions must be a positive integer/);
  });

  it('hands every partition out, balanced over the live workers', () => {
    const plan = planPartitionAssignments(state(5), live('w1', 'w0'), new Map());
    expect(plan.revoke).to.deep.equal([]);
    expect(plan.assign).to.deep.equal([a(0, 'w0'), a(1, 'w1'), a(2, 'w0'), a(3, 'w1'), a(4, 'w0')]);
    expect(plan.epochDone).to.equal(false);
  });

  it('takes back the partitions of a dead worker incarnation and hands them to the live one', () => {
    const held = new Map([[0, a(0, 'w0')], [1, a(1, 'w1')], [2, a(2, 'w0')], [3, a(3, 'w1')]]);
    const plan = planPartitionAssignments(state(4), [{ id: 'w0', incarnation: 'w0-i1' }, { id: 'w1', incarnation: 'w1-i2' }], held);
    expect(plan.revoke).to.deep.equal([a(1, 'w1'), a(3, 'w1')]);
    expect(plan.assign).to.deep.equal([a(1, 'w1', 'w1-i2'), a(3, 'w1', 'w1-i2')]);
    const alone = planPartitionAssignments(state(4), live('w0'), held);
    expect(alone.assign).to.deep.equal([a(1, 'w0'), a(3, 'w0')]);
  });

  it('moves the busiest worker\'s partitions over its share to a worker that joins', () => {
    const held = new Map([0, 1, 2, 3].map((s) => [s, a(s, 'w0')]));
    const plan = planPartitionAssignments(state(4), live('w0', 'w1'), held);
    expect(plan.revoke).to.deep.equal([a(2, 'w0'), a(3, 'w0')]);
    expect(plan.assign).to.deep.equal([a(2, 'w1'), a(3, 'w1')]);
    expect(planPartitionAssignments(state(4), live('w0', 'w1'), new Map([[0, a(0, 'w0')], [1, a(1, 'w0')], [2, a(2, 'w1')], [3, a(3, 'w1')]])))
      .to.deep.include({ revoke: [], assign: [] });
  });
});
