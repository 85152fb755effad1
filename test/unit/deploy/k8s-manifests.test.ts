import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { parseAllDocuments } from 'yaml';

const K8S = path.resolve(__dirname, '..', '..', '..', '..', 'deploy', 'k8s');

describe('deploy/k8s manifests', () => {
  const docs = fs.readdirSync(K8S).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .flatMap((f) => parseAllDocuments(fs.readFileSync(path.join(K8S, f), 'utf8')).map((d) => ({ file: f, obj: d.toJS() })));

  it('parses, and every object has apiVersion, kind and a name', () => {
    expect(docs.length).to.be.greaterThan(0);
    for (const { file, obj } of docs) {
      expect(obj.apiVersion, file).to.be.a('string');
      expect(obj.kind, file).to.be.a('string');
      expect(obj.metadata?.name, file).to.be.a('string');
    }
  });

  it('lists every manifest in kustomization.yaml', () => {
    const kust = parseAllDocuments(fs.readFileSync(path.join(K8S, 'kustomization.yaml'), 'utf8'))[0].toJS();
    const files = fs.readdirSync(K8S).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...kust.resources].sort()).to.deep.equal(files.sort());
  });

  it('probes the PS through gRPC health on the port the PS listens on', () => {
    const sts = docs.find((d) => d.obj.kind === 'StatefulSet')!.obj;
    const c = sts.spec.template.spec.containers[0];
    const port = Number(c.command[c.command.indexOf('--port') + 1]);
    expect(c.readinessProbe.grpc.port).to.equal(port);
    expect(c.livenessProbe.grpc.port).to.equal(port);
    expect(c.securityContext.readOnlyRootFilesystem).to.equal(true);
  });
});
