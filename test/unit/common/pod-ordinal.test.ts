import { expect } from 'chai';
import { expandOrdinal, podOrdinal } from '../../../src/common/pod-ordinal';
import { loadPsConfig } from '../../../src/ps/config';

describe('ids from StatefulSet pod names (issue #7)', () => {
  it('reads the trailing ordinal of a pod name', () => {
    expect(podOrdinal('tessera-ps-0')).to.equal(0);
    expect(podOrdinal('tessera-ps-12')).to.equal(12);
    expect(podOrdinal('ps-3')).to.equal(3);
  });

  it('refuses names without an ordinal, naming the pod', () => {
    for (const bad of ['tessera-ps', 'tessera-ps-', 'tessera-ps-01', '3', 'tessera-ps-x']) {
      expect(() => podOrdinal(bad), bad).to.throw(`pod name "${bad}"`);
    }
  });

  it('fills {ordinal} and leaves other ids alone', () => {
    expect(expandOrdinal('ps-{ordinal}', 'tessera-ps-3')).to.equal('ps-3');
    expect(expandOrdinal('ps-7', 'tessera-ps-3')).to.equal('ps-7');
    expect(expandOrdinal('ps-7', undefined)).to.equal('ps-7');
  });

  it('names TESSERA_POD_NAME when {ordinal} has no pod name to come from', () => {
    expect(() => expandOrdinal('ps-{ordinal}', undefined)).to.throw(/--id "ps-\{ordinal\}".*TESSERA_POD_NAME/);
    expect(() => expandOrdinal('ps-{ordinal}', '')).to.throw(/TESSERA_POD_NAME/);
  });

  it('tessera ps config: --id ps-{ordinal} in pod tessera-ps-3 is ps-3, from the flag or TESSERA_PS_ID', () => {
    expect(loadPsConfig({ TESSERA_POD_NAME: 'tessera-ps-3' }, { id: 'ps-{ordinal}' }).id).to.equal('ps-3');
    expect(loadPsConfig({ TESSERA_POD_NAME: 'tessera-ps-5', TESSERA_PS_ID: 'ps-{ordinal}' }, {}).id).to.equal('ps-5');
    expect(() => loadPsConfig({ TESSERA_PS_ID: 'ps-{ordinal}' }, {})).to.throw(/TESSERA_PS_ID "ps-\{ordinal\}"/);
    expect(loadPsConfig({}, {}).id).to.equal('ps-0');
  });
});
