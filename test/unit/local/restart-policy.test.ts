/**
 * Issue 23: `tessera local` restarts a dead process as a kubelet would (capped exponential
 * backoff, reset by a run that lasted), and gives up on one that keeps failing right after it
 * starts, with its last log line as the reason.
 */
import { expect } from 'chai';
import { reasonFromLog, RestartBackoff } from '../../../src/local/restart-policy';

describe('restart policy of tessera local (issue 23)', () => {
  const policy = { initialMs: 1000, maxMs: 4000, quickMs: 10_000, maxQuickFailures: 4 };

  it('backs off exponentially on quick failures, capped, and gives up after maxQuickFailures in a row', () => {
    const b = new RestartBackoff(policy);
    expect(b.onExit(500)).to.deep.equal({ kind: 'restart', delayMs: 1000, restart: 1 });
    expect(b.onExit(500)).to.deep.equal({ kind: 'restart', delayMs: 2000, restart: 2 });
    expect(b.onExit(500)).to.deep.equal({ kind: 'restart', delayMs: 4000, restart: 3 });
    expect(b.onExit(500)).to.deep.equal({ kind: 'give-up', quickFailures: 4 });
  });

  it('a run that lasted resets the backoff and the count of quick failures', () => {
    const b = new RestartBackoff(policy);
    b.onExit(500);
    b.onExit(500);
    b.onExit(500);
    expect(b.onExit(60_000)).to.deep.equal({ kind: 'restart', delayMs: 1000, restart: 4 });
    expect(b.onExit(500)).to.deep.equal({ kind: 'restart', delayMs: 1000, restart: 5 });
  });

  it('takes the reason from the last log line: a plain line as is, a JSON line\'s msg and error', () => {
    expect(reasonFromLog('{"msg":"starting"}\ntessera chief: training data /nope: ENOENT [TESSERA_ERR_CONFIG]\n\n'))
      .to.equal('tessera chief: training data /nope: ENOENT [TESSERA_ERR_CONFIG]');
    expect(reasonFromLog('{"level":50,"msg":"worker id taken by another process; stopping","err":"worker-0 is already registered"}\n'))
      .to.equal('worker id taken by another process; stopping: worker-0 is already registered');
    expect(reasonFromLog('tessera: Error: listen EADDRINUSE: address already in use 0.0.0.0:7000\n    at Server.bindAddressList (server.js:491:27)\n    at async Server.bindPort (server.js:524:36)\n'))
      .to.equal('tessera: Error: listen EADDRINUSE: address already in use 0.0.0.0:7000');
    expect(reasonFromLog('')).to.equal('(its log is empty)');
  });
});
