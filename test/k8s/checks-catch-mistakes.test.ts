import { expect } from 'chai';
import * as path from 'path';
import { Finding, formatFindings } from './lib/finding';
import { K8sObject, kustomizationFiles, loadFile, Manifest, REPO_ROOT } from './lib/manifests';
import { validateManifests } from './lib/validate';

const BASE = path.join(REPO_ROOT, 'deploy', 'k8s', 'base');

const SERVING = path.join(REPO_ROOT, 'deploy', 'k8s', 'serving');

/** The base objects (no kubectl needed), deep-copied so each test can break one thing. */
function base(): Manifest[] {
  return kustomizationFiles(BASE).resources.flatMap(loadFile).map((m) => ({ ...m, obj: structuredClone(m.obj) }));
}

/** The base and the serving objects. */
function withServing(): Manifest[] {
  return [...base(), ...kustomizationFiles(SERVING).resources.flatMap(loadFile).map((m) => ({ ...m, obj: structuredClone(m.obj) }))];
}

function obj(ms: Manifest[], kind: string, name: string): K8sObject {
  return ms.find((m) => m.obj.kind === kind && m.obj.metadata?.name === name)!.obj;
}

function container(ms: Manifest[], kind: string, name: string): K8sObject {
  return obj(ms, kind, name).spec.template.spec.containers[0];
}

function setFlag(c: K8sObject, flag: string, value: string): void {
  c.args[c.args.indexOf(`--${flag}`) + 1] = value;
}

/** Breaks the base with `mutate` and returns the findings. */
function after(mutate: (ms: Manifest[]) => void): Finding[] {
  const ms = base();
  mutate(ms);
  return validateManifests(ms);
}

function expectFinding(f: Finding[], want: Partial<Finding> & { message?: string }, contains: string): void {
  const { message: _m, ...fields } = want;
  const hit = f.find((x) => Object.entries(fields).every(([k, v]) => (x as unknown as Record<string, unknown>)[k] === v) && x.message.includes(contains));
  expect(hit, `no finding like ${JSON.stringify(want)} "${contains}" in:\n${formatFindings(f)}`).not.to.equal(undefined);
}

describe('deploy checks catch real mistakes in the base manifests (issue #7)', function () {
  this.timeout(20_000);

  it('the untouched base has no findings', () => {
    const f = validateManifests(base());
    expect(f, formatFindings(f)).to.deep.equal([]);
  });

  it('args: an option the tessera parser does not know, named with the file', () => {
    const f = after((ms) => { container(ms, 'Job', 'tessera-worker').args.push('--prot', '1'); });
    expectFinding(f, { file: 'deploy/k8s/base/worker.yaml', object: 'Job/tessera-worker', path: '/spec/template/spec/containers/0/args', check: 'args' }, 'unknown option --prot');
  });

  it('args: the real PS config loader refuses a bad port; --id {ordinal} needs TESSERA_POD_NAME', () => {
    expectFinding(after((ms) => setFlag(container(ms, 'StatefulSet', 'tessera-ps'), 'port', '70000')), { check: 'args' }, 'must be an integer in [0, 65535]');
    const noPodName = after((ms) => {
      const c = container(ms, 'StatefulSet', 'tessera-ps');
      c.env = c.env.filter((e: K8sObject) => e.name !== 'TESSERA_POD_NAME');
    });
    expectFinding(noPodName, { object: 'StatefulSet/tessera-ps', check: 'args' }, 'TESSERA_POD_NAME is not set');
  });

  it('args: a PS must bind beyond loopback and may checkpoint where the chief checkpoints (issue 23)', () => {
    const noHost = after((ms) => {
      const c = container(ms, 'StatefulSet', 'tessera-ps');
      c.args.splice(c.args.indexOf('--host'), 2);
    });
    expectFinding(noHost, { object: 'StatefulSet/tessera-ps', check: 'args' }, '--host is 127.0.0.1');
    expectFinding(after((ms) => setFlag(container(ms, 'StatefulSet', 'tessera-ps'), 'checkpoint-root', '/tmp')),
      { object: 'StatefulSet/tessera-ps', check: 'args' }, "does not hold the chief's --checkpoint-dir /checkpoints");
  });

  it('args: chief --ps must equal the PS replicas × their shards, and --spec must be a valid job spec', () => {
    expectFinding(after((ms) => { obj(ms, 'StatefulSet', 'tessera-ps').spec.replicas = 3; }), { object: 'Deployment/tessera-chief' }, '--ps 4 but the PS workloads run 6 PS (3 replicas × their shards)');
    // Issue 18: the shards come from the PS's CPU limit, so raising it changes the PS count too.
    const psContainer = (ms: Manifest[]) => container(ms, 'StatefulSet', 'tessera-ps');
    expectFinding(after((ms) => { psContainer(ms).resources.limits.cpu = '3'; psContainer(ms).resources.requests.cpu = '3'; }), { object: 'Deployment/tessera-chief' }, '--ps 4 but the PS workloads run 6 PS (2 replicas × their shards)');
    expectFinding(after((ms) => { psContainer(ms).resources.limits.cpu = '3'; }), { object: 'StatefulSet/tessera-ps' }, 'shard 2 of 3 serves on port 7002, which the container does not declare');
    expectFinding(after((ms) => {
      const c = psContainer(ms);
      c.args.splice(c.args.indexOf('--shards'), 2);
      c.env = c.env.filter((e: { name: string }) => e.name !== 'TESSERA_PS_SHARDS');
    }), { object: 'StatefulSet/tessera-ps' }, 'set --shards (or TESSERA_PS_SHARDS');
    const badSpec = after((ms) => {
      const cm = obj(ms, 'ConfigMap', 'tessera-job-spec');
      cm.data['job.yaml'] = cm.data['job.yaml'].replace('batch_size', 'bacth_size');
    });
    expectFinding(badSpec, { object: 'Deployment/tessera-chief', check: 'args' }, 'bacth_size');
  });

  it('serving (issue 14): a writable model root, a root the chief does not publish into, readiness not on /v2/health/ready, a loopback bind', () => {
    const clean = validateManifests(withServing());
    expect(clean, formatFindings(clean)).to.deep.equal([]);
    const breakServing = (mutate: (c: K8sObject, pod: K8sObject, ms: Manifest[]) => void): Finding[] => {
      const ms = withServing();
      const dep = obj(ms, 'Deployment', 'tessera-serve');
      mutate(dep.spec.template.spec.containers[0], dep.spec.template.spec, ms);
      return validateManifests(ms);
    };
    const where = { file: 'deploy/k8s/serving/serve.yaml', object: 'Deployment/tessera-serve', check: 'args' };
    expectFinding(breakServing((c) => { delete c.volumeMounts.find((m: K8sObject) => m.name === 'checkpoints').readOnly; }), where, '--model-root /checkpoints/models must be mounted read-only');
    expectFinding(breakServing((c) => setFlag(c, 'model-root', '/checkpoints/other')), where, 'is not where the chief publishes (pvc/tessera-checkpoints/models)');
    expectFinding(breakServing((_c, _p, ms) => setFlag(container(ms, 'Deployment', 'tessera-chief'), 'export-dir', '/checkpoints/elsewhere')), where, 'is not where the chief publishes (pvc/tessera-checkpoints/elsewhere)');
    expectFinding(breakServing((c) => { c.readinessProbe = { grpc: { port: 8500 } }; }), where, 'must ask /v2/health/ready');
    expectFinding(breakServing((c) => { c.livenessProbe = { httpGet: { path: '/healthz', port: 'http' } }; }), { object: 'Deployment/tessera-serve', check: 'policy' }, 'the KServe v2 health endpoints (httpGet /v2/health/…)');
    expectFinding(breakServing((c) => setFlag(c, 'grpc-port', '8600')), where, '--grpc-port 8600 must be the container port named "grpc"');
    expectFinding(breakServing((c) => setFlag(c, 'host', '127.0.0.1')), where, '--host is 127.0.0.1');
  });

  it('ports: a probe, a Service, a NetworkPolicy or a scrape annotation on a port no container has', () => {
    expectFinding(after((ms) => { container(ms, 'Deployment', 'tessera-chief').readinessProbe.grpc.port = 7101; }),
      { path: '/spec/template/spec/containers/0/readinessProbe/grpc/port', check: 'xref' }, 'not a port of container "chief"');
    expectFinding(after((ms) => { obj(ms, 'Service', 'tessera-ps').spec.ports[0].targetPort = 'grpcc'; }),
      { object: 'Service/tessera-ps', path: '/spec/ports/0/targetPort', check: 'xref' }, '"grpcc" is not a container port');
    expectFinding(after((ms) => { obj(ms, 'NetworkPolicy', 'tessera-chief').spec.ingress[0].ports[0].port = 7001; }),
      { object: 'NetworkPolicy/tessera-chief', path: '/spec/ingress/0/ports/0/port' }, 'not a container port');
    expectFinding(after((ms) => { obj(ms, 'StatefulSet', 'tessera-ps').spec.template.metadata.annotations['prometheus.io/port'] = '9401'; }),
      { object: 'StatefulSet/tessera-ps', path: '/spec/template/metadata/annotations/prometheus.io~1port' }, '9401');
  });

  it('references: selectors that select nothing, missing ServiceAccounts, PVCs, ConfigMap keys and $(VARS)', () => {
    expectFinding(after((ms) => { obj(ms, 'Service', 'tessera-chief').spec.selector['app.kubernetes.io/component'] = 'chef'; }),
      { object: 'Service/tessera-chief', path: '/spec/selector' }, 'selects no pod template');
    expectFinding(after((ms) => { obj(ms, 'Job', 'tessera-worker').spec.template.spec.serviceAccountName = 'tessera-wroker'; }),
      { path: '/spec/template/spec/serviceAccountName' }, 'ServiceAccount "tessera-wroker" not found');
    expectFinding(after((ms) => { obj(ms, 'StatefulSet', 'tessera-ps').spec.template.spec.volumes[1].persistentVolumeClaim.claimName = 'ckpt'; }),
      { path: '/spec/template/spec/volumes/1/persistentVolumeClaim/claimName' }, 'PersistentVolumeClaim "ckpt" not found');
    expectFinding(after((ms) => { container(ms, 'Deployment', 'tessera-chief').env[0].valueFrom.configMapKeyRef.key = 'ETCD'; }),
      { path: '/spec/template/spec/containers/0/env/0/valueFrom/configMapKeyRef/key' }, 'has no key "ETCD"');
    expectFinding(after((ms) => setFlag(container(ms, 'Job', 'tessera-worker'), 'id', 'worker-$(JOB_INDEX)')),
      { object: 'Job/tessera-worker', check: 'xref' }, '$(JOB_INDEX) is not a variable of this container');
  });

  it('policy: a workload without a PodDisruptionBudget, probes, limits or a read-only root', () => {
    expectFinding(after((ms) => ms.splice(ms.findIndex((m) => m.obj.kind === 'PodDisruptionBudget' && m.obj.metadata.name === 'tessera-worker'), 1)),
      { object: 'Job/tessera-worker', check: 'policy' }, 'no PodDisruptionBudget');
    expectFinding(after((ms) => { delete container(ms, 'StatefulSet', 'tessera-ps').livenessProbe; }),
      { path: '/spec/template/spec/containers/0/livenessProbe', check: 'policy' }, 'missing');
    expectFinding(after((ms) => { delete container(ms, 'Deployment', 'tessera-chief').resources.limits.memory; }),
      { path: '/spec/template/spec/containers/0/resources/limits/memory', check: 'policy' }, 'missing');
    expectFinding(after((ms) => { container(ms, 'Job', 'tessera-worker').securityContext.readOnlyRootFilesystem = false; }),
      { path: '/spec/template/spec/containers/0/securityContext/readOnlyRootFilesystem', check: 'policy' }, 'must be true');
    expectFinding(after((ms) => { delete obj(ms, 'Job', 'tessera-worker').spec.template.spec.enableServiceLinks; }),
      { path: '/spec/template/spec/enableServiceLinks', check: 'policy' }, 'TESSERA_*_PORT');
  });

  // Issue #16: with --tls-* a port requires a client certificate, which the kubelet's probes lack.
  it('tls: a kubelet probe of a mutual-TLS role; an exec probe presenting other files or asking another port; an unknown probe command', () => {
    const tlsPs = (ms: Manifest[]): K8sObject => {
      const c = container(ms, 'StatefulSet', 'tessera-ps');
      c.args.push('--tls-cert', '/etc/tessera/tls/tls.crt', '--tls-key', '/etc/tessera/tls/tls.key', '--tls-ca', '/etc/tessera/tls/ca.crt');
      return c;
    };
    const at = { object: 'StatefulSet/tessera-ps', check: 'args', path: '/spec/template/spec/containers/0/readinessProbe' };
    expectFinding(after((ms) => { tlsPs(ms); }), at, 'the kubelet\'s grpc probe presents no client certificate');
    const exec = (flags: string[]) => ({ exec: { command: ['tessera', 'health', '--addr', '127.0.0.1:7000', ...flags] } });
    expectFinding(after((ms) => { tlsPs(ms).readinessProbe = exec(['--tls-cert', '/etc/other/tls.crt', '--tls-key', '/etc/tessera/tls/tls.key', '--tls-ca', '/etc/tessera/tls/ca.crt']); }),
      at, 'tessera health must present the container\'s own --tls-cert/--tls-key/--tls-ca');
    const own = ['--tls-cert', '/etc/tessera/tls/tls.crt', '--tls-key', '/etc/tessera/tls/tls.key', '--tls-ca', '/etc/tessera/tls/ca.crt'];
    expectFinding(after((ms) => { tlsPs(ms).readinessProbe = { exec: { command: ['tessera', 'health', '--addr', '127.0.0.1:7001', ...own] } }; }),
      at, 'probes port 7001, but tessera ps serves gRPC health on --port 7000');
    const clean = after((ms) => { const c = tlsPs(ms); c.readinessProbe = exec(own); c.livenessProbe = exec(own); });
    expect(clean.filter((x) => x.object === 'StatefulSet/tessera-ps'), formatFindings(clean)).to.deep.equal([]);
    expectFinding(after((ms) => { container(ms, 'StatefulSet', 'tessera-ps').readinessProbe = { exec: { command: ['sh', '-c', 'true'] } }; }),
      { object: 'StatefulSet/tessera-ps', check: 'policy' }, 'or `tessera health` (exec, for mutual TLS)');
  });
});
