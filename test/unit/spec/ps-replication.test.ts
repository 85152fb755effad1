import { expect } from 'chai';
import { jobSpecToYaml, parseJobSpec, specFingerprint } from '../../../src/spec/job-spec';
import { baseSpec, expectSpecError, parseObject } from './fixtures';

// Issue 17 §2: `ps.replication: buddy | none` in the job spec.
describe('spec ps.replication (issue 17)', () => {
  it('defaults to none, and the default is not written (old specs keep their fingerprints)', () => {
    const s = parseObject(baseSpec());
    expect(s.ps.replication).to.equal('none');
    expect(jobSpecToYaml(s)).to.not.contain('replication');
  });

  it('reads buddy and keeps it through the canonical YAML', () => {
    const s = parseObject({ ...baseSpec(), ps: { replication: 'buddy' } });
    expect(s.ps.replication).to.equal('buddy');
    const yaml = jobSpecToYaml(s);
    expect(parseJobSpec(yaml).ps.replication).to.equal('buddy');
    expect(specFingerprint(s)).to.not.equal(specFingerprint(parseObject(baseSpec())));
  });

  it('refuses a bad value or key with one line naming the key and the choices', () => {
    const e = expectSpecError({ ...baseSpec(), ps: { replication: 'bady' } }, 'ps.replication', 'unknown replication mode "bady" (expected one of buddy, none)');
    expect(e.message.split('\n')).to.have.length(1);
    expectSpecError({ ...baseSpec(), ps: { replicas: 2 } }, 'ps.replicas', 'unknown key');
  });
});
