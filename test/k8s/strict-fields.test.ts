import { expect } from 'chai';
import { sharedStrictChecker } from './lib/strict-fields';

/** A minimal valid Deployment; `patch` mutates one copy. */
function deployment(patch: (d: any) => void = () => undefined): Record<string, unknown> {
  const d = {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x', labels: { a: 'b' } },
    spec: {
      replicas: 2, selector: { matchLabels: { a: 'b' } },
      template: {
        metadata: { labels: { a: 'b' } },
        spec: { containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 7000, protocol: 'TCP' }], resources: { limits: { cpu: '1', memory: 1024 } } }] },
      },
    },
  };
  patch(d);
  return d;
}

describe('strict unknown-field check (kubernetes-models types, issue #7)', function () {
  this.timeout(20_000);
  const check = (obj: Record<string, unknown>) => sharedStrictChecker().check(obj);

  it('accepts a valid object, including int-or-string quantities and free-form label maps', () => {
    expect(check(deployment())).to.deep.equal([]);
  });

  it('rejects an unknown field at any depth, with its path and the field it was probably meant to be', () => {
    expect(check(deployment((d) => { d.spec.template.spec.containers[0].imagee = 'i'; }))).to.deep.equal([
      { path: '/spec/template/spec/containers/0/imagee', message: 'unknown field "imagee" (did you mean "image"?)' },
    ]);
    expect(check(deployment((d) => { d.spec.replica = 1; }))[0].path).to.equal('/spec/replica');
    expect(check(deployment((d) => { d.metadata.lables = {}; }))[0].message).to.contain('did you mean "labels"');
  });

  it('rejects wrong JSON types and values outside an enum', () => {
    expect(check(deployment((d) => { d.spec.replicas = '2'; }))).to.deep.equal([{ path: '/spec/replicas', message: 'expected a number, got string "2"' }]);
    expect(check(deployment((d) => { d.metadata.labels.a = 1; }))).to.deep.equal([{ path: '/metadata/labels/a', message: 'expected a string, got number 1' }]);
    expect(check(deployment((d) => { d.spec.template.spec.containers[0].ports[0].protocol = 'TPC'; }))[0].message).to.equal('"TPC" is not one of "SCTP", "TCP", "UDP"');
    expect(check(deployment((d) => { d.spec.template.spec.containers = {}; }))[0].message).to.equal('expected an array, got an object');
    expect(check(deployment((d) => { d.spec.paused = 'yes'; }))[0].message).to.equal('expected a boolean, got string "yes"');
    expect(check(deployment((d) => { d.spec.template.spec.containers[0].resources.limits.cpu = true; }))[0].path).to.equal('/spec/template/spec/containers/0/resources/limits/cpu');
  });

  it('names an apiVersion/kind it has no type for', () => {
    expect(check({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } })[0].message).to.contain('no API type known');
  });
});
