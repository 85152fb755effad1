/** The key layout (src/membership/keys.ts); needs no etcd. Keep in step with docs/etcd-keys.md. */
import { expect } from 'chai';
import { Election } from 'etcd3';
import {
  assignmentKey, CHIEF_ELECTION, electionPrefix, faultKey, jobPrefix, KEYS, memberKey, memberPrefix, parseMemberKey, progressKey,
  validateJobName, validateMemberId,
} from '../../src/membership/keys';

describe('membership keys', () => {
  it('builds every documented key under /tessera/<job>/', () => {
    expect(jobPrefix('criteo-deepfm')).to.equal('/tessera/criteo-deepfm/');
    expect(memberPrefix()).to.equal('members/');
    expect(memberPrefix('ps')).to.equal('members/ps/');
    expect(memberKey('worker', 'w-1')).to.equal('members/worker/w-1');
    expect(electionPrefix()).to.equal('election/chief/');
    expect(KEYS.SHARD_MAP).to.equal('shardmap');
    expect(KEYS.SPEC).to.equal('spec');
    expect(KEYS.CHECKPOINTS_LATEST).to.equal('checkpoints/latest');
    expect(assignmentKey(3)).to.equal('assignments/3');
    expect(progressKey(0)).to.equal('progress/0');
    expect(KEYS.TABLES).to.equal('tables'); // issue 23
    expect(KEYS.MIGRATION).to.equal('migration'); // issue 17
    expect(faultKey('worker-1')).to.equal('faults/worker-1');
    expect(() => faultKey('a/b')).to.throw(/^worker must be/);
  });

  it('matches the prefix etcd3 campaigns under', () => {
    expect(electionPrefix(CHIEF_ELECTION)).to.equal(`${Election.prefix}/${CHIEF_ELECTION}/`);
  });

  it('parses member keys and ignores anything else', () => {
    expect(parseMemberKey('members/chief/c-0')).to.deep.equal({ role: 'chief', id: 'c-0' });
    expect(parseMemberKey('members/boss/x')).to.equal(undefined);
    expect(parseMemberKey('members/ps/a/b')).to.equal(undefined);
    expect(parseMemberKey('shardmap')).to.equal(undefined);
  });

  it('rejects bad names, naming the field', () => {
    expect(() => validateJobName('a/b')).to.throw(/^job must be/);
    expect(() => validateJobName('')).to.throw(/^job must be/);
    expect(() => validateJobName('..')).to.throw(/^job must be/);
    expect(() => validateMemberId('x'.repeat(129))).to.throw(/^id must be/);
    expect(() => validateMemberId('a b', 'election name')).to.throw(/^election name must be/);
    expect(() => assignmentKey(-1)).to.throw(/^shard must be an integer/);
    expect(() => progressKey(1.5)).to.throw(/^shard must be an integer/);
    expect(validateJobName('job_1.v2')).to.equal('job_1.v2');
  });
});
