/**
 * Issue 23, item 8: errors of a directory Tessera writes to that waiting cannot fix become one
 * non-retryable TESSERA_ERR_CHECKPOINT_DIR naming what and where; anything else is left alone.
 */
import { expect } from 'chai';
import { asDiskError, diskErrorCode } from '../../../src/common/disk-errors';
import { ERROR_CODES, TesseraError } from '../../../src/common/errors';

function fsError(code: string, message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code, syscall: 'write' });
}

describe('disk errors of the checkpoint directory (issue 23, item 8)', () => {
  it('words each kind, names the directory, and is not retryable', () => {
    const cases: [string, RegExp][] = [
      ['ENOSPC', /^checkpoint dir full \(ENOSPC\): \/ckpt: ENOSPC: no space/],
      ['EDQUOT', /^checkpoint dir over its disk quota \(EDQUOT\): \/ckpt: /],
      ['EACCES', /^checkpoint dir not writable \(EACCES\): \/ckpt: /],
      ['EROFS', /^checkpoint dir on a read-only filesystem \(EROFS\): \/ckpt: /],
    ];
    for (const [code, re] of cases) {
      const e = asDiskError(fsError(code, 'no space left on device, write'), '/ckpt') as TesseraError;
      expect(e, code).to.be.instanceOf(TesseraError);
      expect(e.code).to.equal(ERROR_CODES.CHECKPOINT_DIR);
      expect(e.retryable).to.equal(false);
      expect(e.message).to.match(re);
    }
  });

  it('reads the code from a message (a PS reports its snapshot write failing as text), and labels as asked', () => {
    const ps = new Error('snapshot "ckpt-1" failed on ps 1 (127.0.0.1:7000): ENOSPC: no space left on device, write');
    expect(diskErrorCode(ps)).to.equal('ENOSPC');
    expect((asDiskError(ps, '/m', 'model dir') as Error).message).to.match(/^model dir full \(ENOSPC\): \/m: snapshot "ckpt-1" failed/);
  });

  it('leaves other errors as they are', () => {
    const other = new Error('14 UNAVAILABLE: connection refused');
    expect(asDiskError(other, '/ckpt')).to.equal(other);
    expect(diskErrorCode(new TesseraError(ERROR_CODES.UNAVAILABLE, 'etcd down'))).to.equal(undefined);
    const done = asDiskError(fsError('ENOSPC', 'x'), '/a');
    expect(asDiskError(done, '/b'), 'already converted').to.equal(done);
  });
});
