/**
 * Issue 23: which errors fail the job through the chief (and end every process with the cause),
 * which make it attach the PS again, and which it waits out.
 */
import { expect } from 'chai';
import { ERROR_CODES, TesseraError } from '../../../src/common/errors';
import { isTransient, jobFatal, JobFailedError, needsReattach } from '../../../src/chief/job-failure';

describe('job failure classification (issue 23)', () => {
  it('fails the job on bad input, unreadable checkpoints and unwritable directories, naming the cause', () => {
    for (const code of [ERROR_CODES.CONFIG, ERROR_CODES.CHECKPOINT_CORRUPT, ERROR_CODES.CHECKPOINT_DIR, ERROR_CODES.INCOMPATIBLE_SPEC]) {
      expect(jobFatal(new TesseraError(code, 'x'), '/ckpt'), code).to.be.instanceOf(TesseraError);
    }
    // A PS that refuses the chief's certificate refuses it again: fail fast, never retry (issue 15:
    // the cut's rounds were once missing from the chief's role and every checkpoint was retried).
    for (const code of [ERROR_CODES.PERMISSION_DENIED, ERROR_CODES.UNAUTHENTICATED]) {
      expect(jobFatal(new TesseraError(code, 'role "chief" may not call PrepareCut'), '/ckpt'), code).to.be.instanceOf(TesseraError);
      expect(isTransient(new TesseraError(code, 'x')), code).to.equal(false);
    }
    const raw = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    expect(jobFatal(raw, '/ckpt')?.message).to.match(/^checkpoint dir full \(ENOSPC\): \/ckpt: /);
    expect(isTransient(raw), 'a full disk is not waited out').to.equal(false);
    expect(jobFatal(new JobFailedError(ERROR_CODES.STALE_SHARD_MAP, 'no higher version'), '/c')?.code).to.equal(ERROR_CODES.STALE_SHARD_MAP);
  });

  it('waits out unreachable etcd or PS, attaches again when the PS changed, and never fails the job for leadership', () => {
    expect(jobFatal(new TesseraError(ERROR_CODES.UNAVAILABLE, 'x'), '/c')).to.equal(undefined);
    expect(isTransient(new TesseraError(ERROR_CODES.UNAVAILABLE, 'x'))).to.equal(true);
    expect(isTransient(new Error('14 UNAVAILABLE: No connection established'))).to.equal(true);
    expect(jobFatal(new TesseraError(ERROR_CODES.NOT_LEADER, 'x'), '/c')).to.equal(undefined);
    expect(needsReattach(new TesseraError(ERROR_CODES.STALE_SHARD_MAP, 'x'))).to.equal(true);
    expect(jobFatal(new TesseraError(ERROR_CODES.STALE_SHARD_MAP, 'x'), '/c')).to.equal(undefined);
    expect(needsReattach(new JobFailedError(ERROR_CODES.STALE_SHARD_MAP, 'x'))).to.equal(false);
  });
});
