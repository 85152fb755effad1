import { expect } from 'chai';
import * as path from 'path';
import { Finding, formatFindings } from './lib/finding';
import { REPO_ROOT } from './lib/manifests';
import { validateFiles } from './lib/validate';

const FIXTURES = path.join(REPO_ROOT, 'test', 'k8s', 'fixtures');

/** Validates one fixture (schema, strict fields, cross-references) and returns its findings. */
function findings(name: string): Finding[] {
  return validateFiles([path.join(FIXTURES, name)], { policy: false });
}

describe('manifest validation rejects bad input, naming the file and the path (issue #7)', function () {
  this.timeout(20_000);

  it('an unknown field: the strict check names it, though kubernetes-models lets it through', () => {
    const f = findings('unknown-field.yaml');
    expect(f.filter((x) => x.check === 'schema'), 'kubernetes-models alone accepts "imagee"').to.deep.equal([]);
    const strict = f.find((x) => x.check === 'strict');
    expect(strict, formatFindings(f)).to.include({
      file: 'test/k8s/fixtures/unknown-field.yaml', object: 'Deployment/typo', path: '/spec/template/spec/containers/0/imagee', line: 16,
    });
    expect(strict!.message).to.contain('unknown field "imagee"');
  });

  it('a wrong type: both the schema and the strict check name /spec/replicas', () => {
    const f = findings('wrong-type.yaml');
    expect(f.map((x) => [x.file, x.object, x.path, x.check])).to.deep.include.members([
      ['test/k8s/fixtures/wrong-type.yaml', 'Deployment/wrong-type', '/spec/replicas', 'schema'],
      ['test/k8s/fixtures/wrong-type.yaml', 'Deployment/wrong-type', '/spec/replicas', 'strict'],
    ]);
    expect(f.every((x) => x.path === '/spec/replicas'), formatFindings(f)).to.equal(true);
  });

  it('a dangling reference: a ConfigMap volume naming a ConfigMap that does not exist', () => {
    const f = findings('dangling-ref.yaml');
    expect(f, formatFindings(f)).to.have.length(1);
    expect(f[0]).to.include({
      file: 'test/k8s/fixtures/dangling-ref.yaml', object: 'Deployment/dangling', path: '/spec/template/spec/volumes/0/configMap/name', check: 'xref', line: 30,
    });
    expect(f[0].message).to.equal('ConfigMap "tessera-job-spek" not found');
  });
});
