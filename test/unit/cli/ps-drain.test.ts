/**
 * Issue 17: when `tessera ps drain --wait` (the PS pods' preStop hook) stops waiting. Besides a
 * finished drain, a wait that nothing can end must end: the job is over, or every PS of the map
 * is draining (the whole StatefulSet deleted), so `kubectl delete` is not held for the timeout.
 */
import { expect } from 'chai';
import { drainOutcome } from '../../../src/cli/ps-drain';
import type { JobSnapshot } from '../../../src/control/job-store';
import type { DrainRequest, JobState } from '../../../src/control/job-types';

function snap(drains: [string, boolean][], phase: JobState['phase'] = 'train'): Pick<JobSnapshot, 'drains' | 'state'> {
  return { drains: new Map(drains.map(([id, done]): [string, DrainRequest] => [id, { id, done, at: '' }])), state: { phase } as JobState };
}

describe('tessera ps drain --wait: drainOutcome (issue 17)', () => {
  it('is done once every named drain is done, or its record is gone (forgotten once done)', () => {
    expect(drainOutcome(snap([['ps-4', true], ['ps-5', true]]), ['ps-4', 'ps-5'], [0, 1, 2, 3, 4, 5])).to.equal('done');
    expect(drainOutcome(snap([['ps-5', true]]), ['ps-4', 'ps-5'], [0, 1, 2, 3, 4, 5])).to.equal('done');
    expect(drainOutcome(snap([['ps-4', true], ['ps-5', false]]), ['ps-4', 'ps-5'], [0, 1, 2, 3, 4, 5])).to.equal(undefined);
  });

  it('stops waiting when the job ended or every PS of the map is draining, not before', () => {
    expect(drainOutcome(snap([['ps-1', false]], 'done'), ['ps-1'], [0, 1])).to.equal('job-ended');
    expect(drainOutcome(snap([['ps-1', false]], 'failed'), ['ps-1'], [0, 1])).to.equal('job-ended');
    expect(drainOutcome(snap([['ps-1', false], ['tessera-ps-0', false]]), ['ps-1'], [0, 1])).to.equal('all-draining');
    expect(drainOutcome(snap([['ps-1', false], ['by-hand', false]]), ['ps-1'], [0, 1])).to.equal(undefined);
    expect(drainOutcome(snap([['ps-1', false]], 'eval'), ['ps-1'], [0, 1])).to.equal(undefined);
  });
});
