/**
 * Issue #16 on Kubernetes: deploy/k8s/overlays/tls (the tls and cert-manager components over the
 * serving overlay's objects) renders with kubectl and passes every manifest check (schemas of
 * the cert-manager objects included), and its wiring holds: every Tessera role mounts its own
 * certificate Secret and passes --tls-* and --metrics-tls; every Secret mounted comes from a
 * Certificate of the job CA with the role's SPIFFE identity; probes use exec (the kubelet has no
 * client certificate); no container keeps a plaintext listener; etcd runs TLS for clients and
 * peers with client-certificate auth, and TESSERA_ETCD is https.
 */
import { expect } from 'chai';
import * as path from 'path';
import { parseArgs } from '../../src/runtime/args';
import { identityFromSubjectAltName } from '../../src/common/spiffe-id';
import { formatFindings } from './lib/finding';
import { KUBECTL_SKIP_MESSAGE, kubectlAvailable, kubectlRequired } from './lib/kubectl';
import { K8sObject, Manifest, renderOverlay, REPO_ROOT } from './lib/manifests';
import { podTemplates } from './lib/pods';
import { isTesseraContainer } from './lib/policy';
import { probeTarget } from './lib/probes';
import { ROLE_OPTIONS } from './role-options';
import { validateManifests } from './lib/validate';

const TLS_OVERLAY = path.join(REPO_ROOT, 'deploy', 'k8s', 'overlays', 'tls');

function find(ms: Manifest[], kind: string, name: string): K8sObject {
  const m = ms.find((x) => x.obj.kind === kind && x.obj.metadata?.name === name);
  if (!m) throw new Error(`${kind}/${name} not rendered`);
  return m.obj;
}

describe('deploy/k8s overlays/tls: mutual TLS on every port, certificates from cert-manager (issue #16)', function () {
  this.timeout(30_000);
  let ms: Manifest[] = [];

  before(function () {
    if (!kubectlAvailable()) {
      if (kubectlRequired()) throw new Error(`TESSERA_REQUIRE_KUBECTL=1 but ${KUBECTL_SKIP_MESSAGE}`);
      this.skip();
    }
    ms = renderOverlay(TLS_OVERLAY);
  });

  it('passes the schema (cert-manager\'s too), strict-field, cross-reference, policy and args checks; the schema check sees cert-manager fields', () => {
    const f = validateManifests(ms);
    expect(f, formatFindings(f)).to.deep.equal([]);
    const broken = ms.map((m) => (m.obj.kind === 'Certificate' && m.obj.metadata.name === 'tessera-ps'
      ? { ...m, obj: { ...m.obj, spec: { ...m.obj.spec, usages: ['client auht'], issuerRef: { kind: 'Issuer', name: 'nope' } } } } : m));
    const found = validateManifests(broken).map((x) => `${x.check} ${x.path} ${x.message}`);
    expect(found.some((x) => /^schema \/spec\/usages\/0/.test(x)), found.join('\n')).to.equal(true);
    expect(found).to.include('xref /spec/issuerRef/name Issuer "nope" not found');
  });

  it('every Tessera role mounts its own Secret and passes --tls-cert/--tls-key/--tls-ca and --metrics-tls from it', () => {
    const roles = podTemplates(ms).flatMap((p) => (p.spec.containers as K8sObject[]).filter(isTesseraContainer).map((c) => ({ p, c })));
    expect(roles.map(({ c }) => c.args[0]).sort()).to.deep.equal(['chief', 'ps', 'serve', 'worker']);
    for (const { p, c } of roles) {
      const role = c.args[0] as string;
      const o = parseArgs(c.args.slice(1), ROLE_OPTIONS[role]).options;
      expect(o['metrics-tls'], role).to.equal(true);
      const mount = (c.volumeMounts as K8sObject[]).find((m) => m.name === 'tls');
      expect(mount, role).to.include({ mountPath: '/etc/tessera/tls', readOnly: true });
      expect([o['tls-cert'], o['tls-key'], o['tls-ca']], role).to.deep.equal(['tls.crt', 'tls.key', 'ca.crt'].map((f) => `${mount!.mountPath}/${f}`));
      const volume = (p.spec.volumes as K8sObject[]).find((v) => v.name === 'tls');
      expect(volume?.secret?.secretName, role).to.equal(`tessera-${role}-tls`);
    }
  });

  it('each mounted Secret comes from a Certificate of the job CA naming the role and the job (TESSERA_JOB)', () => {
    const job = find(ms, 'ConfigMap', 'tessera-cluster').data.TESSERA_JOB;
    const certs = ms.filter((m) => m.obj.kind === 'Certificate').map((m) => m.obj);
    const bySecret = new Map<string, K8sObject>(certs.map((c) => [c.spec.secretName, c]));
    const get = (secret: string): K8sObject => bySecret.get(secret) ?? expect.fail(`no Certificate writes Secret ${secret}`);
    for (const role of ['ps', 'worker', 'chief', 'serve', 'admin']) {
      const cert = get(`tessera-${role}-tls`);
      expect(cert.spec.uris, role).to.have.length(1);
      expect(identityFromSubjectAltName(`URI:${cert.spec.uris[0]}`), role).to.include({ job, role });
      expect(cert.spec.issuerRef, role).to.deep.equal({ kind: 'Issuer', name: 'tessera-ca' });
      expect(cert.spec.usages, role).to.include.members(['server auth', 'client auth']);
    }
    const caIssuer = find(ms, 'Issuer', 'tessera-ca');
    const ca = get(caIssuer.spec.ca.secretName);
    expect(ca.spec.isCA).to.equal(true);
    expect(find(ms, 'Issuer', ca.spec.issuerRef.name).spec.selfSigned).to.deep.equal({});
    const etcd = get('tessera-etcd-tls');
    expect(etcd.spec.dnsNames).to.include('*.tessera-etcd');
    expect(etcd.spec.ipAddresses).to.include('127.0.0.1');
  });

  it('no probe is the kubelet\'s own (it presents no client certificate); each asks the role\'s port with the pod\'s certificate', () => {
    for (const p of podTemplates(ms)) {
      for (const c of p.spec.containers as K8sObject[]) {
        for (const probe of ['readinessProbe', 'livenessProbe']) {
          const pr = c[probe];
          expect(pr.exec, `${c.name} ${probe}`).to.not.equal(undefined);
          if (!isTesseraContainer(c)) {
            expect(pr.exec.command.join(' '), `${c.name} ${probe}`).to.match(/etcdctl --endpoints=https:\/\/127\.0\.0\.1:2379 --cacert=\S+ --cert=\S+ --key=\S+ .*endpoint (health|status)$/);
            continue;
          }
          const t = probeTarget(pr)!;
          expect(t.tls, `${c.name} ${probe}`).to.deep.equal({ cert: '/etc/tessera/tls/tls.crt', key: '/etc/tessera/tls/tls.key', ca: '/etc/tessera/tls/ca.crt' });
          if (c.args[0] === 'serve') expect(t).to.include({ port: 8501, https: true });
          else expect(t.port, c.name).to.equal(Number(c.args[c.args.indexOf('--port') + 1]));
        }
      }
    }
  });

  it('etcd: TLS for clients, peers and metrics with client-certificate auth; no http:// listener left; TESSERA_ETCD is https', () => {
    const etcd = find(ms, 'StatefulSet', 'tessera-etcd').spec.template.spec.containers[0];
    const args = etcd.args as string[];
    expect(args.filter((a) => a.includes('http://'))).to.deep.equal([]);
    expect(args).to.include.members(['--client-cert-auth', '--peer-client-cert-auth', '--trusted-ca-file=/etc/etcd/tls/ca.crt', '--peer-trusted-ca-file=/etc/etcd/tls/ca.crt']);
    for (const flag of ['--listen-client-urls', '--listen-peer-urls', '--listen-metrics-urls']) {
      expect(args.find((a) => a.startsWith(`${flag}=`)), flag).to.match(/=https:\/\//);
    }
    expect(etcd.volumeMounts.find((m: K8sObject) => m.mountPath === '/etc/etcd/tls').readOnly).to.equal(true);
    const endpoints = String(find(ms, 'ConfigMap', 'tessera-cluster').data.TESSERA_ETCD).split(',');
    expect(endpoints.length).to.equal(3);
    for (const e of endpoints) expect(e).to.match(/^https:\/\/tessera-etcd-\d\.tessera-etcd:2379$/);
  });
});
