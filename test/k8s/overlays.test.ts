import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { formatFindings } from './lib/finding';
import { KUBECTL_SKIP_MESSAGE, kubectlAvailable, kubectlRequired, kustomizeWithWarnings } from './lib/kubectl';
import { K8sObject, kustomizationFiles, loadFile, Manifest, renderOverlay, REPO_ROOT } from './lib/manifests';
import { patchFindings, validateManifests } from './lib/validate';

const K8S = path.join(REPO_ROOT, 'deploy', 'k8s');
const OVERLAYS = fs.readdirSync(path.join(K8S, 'overlays')).sort();

function find(ms: Manifest[], kind: string, name: string): K8sObject {
  const m = ms.find((x) => x.obj.kind === kind && x.obj.metadata?.name === name);
  if (!m) throw new Error(`${kind}/${name} not rendered`);
  return m.obj;
}

function yamlFilesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? yamlFilesUnder(p) : e.name.endsWith('.yaml') ? [p] : [];
  });
}

describe('deploy/k8s overlays render and validate (issue #7)', function () {
  this.timeout(30_000);
  const rendered = new Map<string, Manifest[]>();

  before(function () {
    if (!kubectlAvailable()) {
      if (kubectlRequired()) throw new Error(`TESSERA_REQUIRE_KUBECTL=1 but ${KUBECTL_SKIP_MESSAGE}`);
      this.skip();
    }
    for (const o of OVERLAYS) rendered.set(o, renderOverlay(path.join(K8S, 'overlays', o)));
  });

  it('has the cpu and gpu overlays', () => {
    expect(OVERLAYS).to.include.members(['cpu', 'gpu']);
  });

  for (const overlay of OVERLAYS) {
    it(`overlays/${overlay}: every object passes schema, strict-field, cross-reference, policy and args checks`, () => {
      const ms = rendered.get(overlay)!;
      expect(ms.length).to.be.greaterThan(10);
      const f = validateManifests(ms);
      expect(f, formatFindings(f)).to.deep.equal([]);
      // Attribution: every object is traced back to the file that declares it.
      expect(ms.filter((m) => m.file.endsWith('(rendered)')).map((m) => m.file)).to.deep.equal([]);
    });
  }

  it('every kustomization file exists, every YAML file is used, and patches name only real fields', () => {
    // deploy/k8s/monitoring (PodMonitor, rules, dashboard) is its own root: test/k8s/monitoring.test.ts.
    const used = new Set<string>([...OVERLAYS.map((o) => path.join('overlays', o)), 'monitoring'].flatMap((root) => {
      const k = kustomizationFiles(path.join(K8S, root));
      return [...k.resources, ...k.patches];
    }));
    const all = yamlFilesUnder(K8S).filter((f) => path.basename(f) !== 'kustomization.yaml');
    expect(all.filter((f) => !used.has(f)).map((f) => path.relative(REPO_ROOT, f)), 'files no overlay uses').to.deep.equal([]);
    const patches = OVERLAYS.flatMap((o) => kustomizationFiles(path.join(K8S, 'overlays', o)).patches);
    expect(patches.length).to.be.greaterThan(0);
    const f = patchFindings(patches);
    expect(f, formatFindings(f)).to.deep.equal([]);
  });

  it('every object of every overlay and of monitoring carries the recommended labels; selectors do not (issue #22 §7)', () => {
    const version = (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    const want = {
      'app.kubernetes.io/instance': 'ctr', 'app.kubernetes.io/part-of': 'tessera',
      'app.kubernetes.io/version': version, 'app.kubernetes.io/managed-by': 'kustomize',
    };
    const monitoring = renderOverlay(path.join(K8S, 'monitoring')).map((m) => m.obj);
    const objects = [...OVERLAYS.flatMap((o) => rendered.get(o)!.map((m) => m.obj)), ...monitoring];
    const missing = objects.flatMap((o) => [o.metadata?.labels, ...(o.spec?.template ? [o.spec.template.metadata?.labels] : [])]
      .filter((labels) => !Object.entries(want).every(([k, v]) => labels?.[k] === v))
      .map(() => `${o.kind}/${o.metadata?.name}`));
    expect(missing, 'objects (or pod templates) without the recommended labels').to.deep.equal([]);
    const selectors = objects.map((o) => JSON.stringify(o.spec?.selector ?? {})).filter((s) => /instance|part-of|version|managed-by/.test(s));
    expect(selectors, 'a selector cannot change after creation: no version in it').to.deep.equal([]);
  });

  it('kustomizations use no deprecated syntax, and kubectl renders them without warnings (issue #22 §7)', () => {
    const roots = [...OVERLAYS.map((o) => path.join(K8S, 'overlays', o)), path.join(K8S, 'monitoring')];
    const files = yamlFilesUnder(path.join(REPO_ROOT, 'deploy')).filter((f) => path.basename(f) === 'kustomization.yaml');
    const deprecated = files.filter((f) => /^(bases|patchesStrategicMerge|patchesJson6902|commonLabels|vars):/m.test(fs.readFileSync(f, 'utf8')));
    expect(deprecated.map((f) => path.relative(REPO_ROOT, f))).to.deep.equal([]);
    expect(roots.flatMap((r) => kustomizeWithWarnings(r).warnings.map((w) => `${path.relative(REPO_ROOT, r)}: ${w}`))).to.deep.equal([]);
  });

  it('gpu: workers request one GPU each on GPU nodes from the GPU image, on webgpu with Vulkan mounted; PS and chief stay on the CPU image', () => {
    const ms = rendered.get('gpu')!;
    const pod = find(ms, 'Job', 'tessera-worker').spec.template.spec;
    const worker = pod.containers[0];
    expect(worker.image).to.match(/^tessera-gpu:/);
    const env = Object.fromEntries(worker.env.map((e: { name: string; value?: string }) => [e.name, e.value]));
    expect(env.TESSERA_TF_BACKEND).to.equal('webgpu');
    expect(env.NVIDIA_DRIVER_CAPABILITIES.split(',')).to.include('graphics'); // issue #20: Vulkan needs it
    expect(worker.env.map((e: { name: string }) => e.name), 'the base env survives the patch').to.include.members(['TESSERA_ETCD', 'TESSERA_JOB']);
    expect(worker.resources.limits['nvidia.com/gpu']).to.equal('1');
    expect(worker.resources.requests['nvidia.com/gpu']).to.equal('1');
    expect(pod.nodeSelector).to.deep.equal({ 'nvidia.com/gpu.present': 'true' });
    expect(pod.tolerations).to.deep.include({ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' });
    expect(find(ms, 'StatefulSet', 'tessera-ps').spec.template.spec.containers[0].image).to.match(/^tessera:/);
    expect(find(ms, 'Deployment', 'tessera-chief').spec.template.spec.containers[0].image).to.match(/^tessera:/);
  });

  it('cpu: no object asks for a GPU or GPU nodes', () => {
    const text = JSON.stringify(rendered.get('cpu')!.map((m) => m.obj));
    expect(text).not.to.contain('nvidia.com/gpu');
    expect(text).not.to.contain('tessera-gpu');
  });

  it('the workloads are the ones issue #7 asks for: PS StatefulSet, Indexed worker Job, 2 chiefs, RWX checkpoints', () => {
    for (const overlay of OVERLAYS) {
      const ms = rendered.get(overlay)!;
      expect(find(ms, 'StatefulSet', 'tessera-ps').spec.podManagementPolicy, overlay).to.equal('Parallel');
      const job = find(ms, 'Job', 'tessera-worker').spec;
      expect(job.completionMode, overlay).to.equal('Indexed');
      expect(job.parallelism, overlay).to.equal(job.completions);
      expect(find(ms, 'Deployment', 'tessera-chief').spec.replicas, overlay).to.equal(2);
      expect(find(ms, 'PersistentVolumeClaim', 'tessera-checkpoints').spec.accessModes, overlay).to.deep.equal(['ReadWriteMany']);
      expect(ms.filter((m) => m.obj.kind === 'NetworkPolicy').map((m) => m.obj.metadata.name), overlay).to.include.members(['tessera-ps', 'tessera-chief']);
    }
  });

  it('serving (issue 14): 2 tessera serve replicas, ready when the models are loaded, the chief\'s model root mounted read-only, a Service and a PDB', () => {
    const ms = rendered.get('serving')!;
    const dep = find(ms, 'Deployment', 'tessera-serve');
    expect(dep.spec.replicas).to.equal(2);
    const pod = dep.spec.template.spec;
    const c = pod.containers[0];
    expect(c.image).to.match(/^tessera:/);
    expect(c.args.slice(0, 3)).to.deep.equal(['serve', '--model-root', '/checkpoints/models']);
    expect(c.readinessProbe.httpGet).to.deep.equal({ path: '/v2/health/ready', port: 'http' });
    const mount = c.volumeMounts.find((m: K8sObject) => m.mountPath === '/checkpoints');
    expect(mount.readOnly).to.equal(true);
    expect(pod.volumes.find((v: K8sObject) => v.name === mount.name).persistentVolumeClaim).to.deep.equal({ claimName: 'tessera-checkpoints', readOnly: true });
    const chief = find(ms, 'Deployment', 'tessera-chief').spec.template.spec.containers[0].args;
    expect(chief[chief.indexOf('--export-dir') + 1], 'the chief publishes where serving reads').to.equal('/checkpoints/models');
    expect(find(ms, 'Service', 'tessera-serve').spec.ports.map((p: K8sObject) => `${p.name}:${p.port}`)).to.deep.equal(['http:8501', 'grpc:8500', 'metrics:9400']);
    expect(find(ms, 'PodDisruptionBudget', 'tessera-serve').spec.minAvailable).to.equal(1);
    for (const overlay of ['cpu', 'gpu']) expect(rendered.get(overlay)!.some((m) => m.obj.metadata?.name === 'tessera-serve'), overlay).to.equal(false);
  });

  it('cpu and gpu: TESSERA_ETCD names exactly the members of the 3-member etcd StatefulSet and its client port', () => {
    for (const overlay of ['cpu', 'gpu']) {
      const ms = rendered.get(overlay)!;
      const sts = find(ms, 'StatefulSet', 'tessera-etcd');
      expect(sts.spec.replicas, overlay).to.equal(3);
      const members = Array.from({ length: sts.spec.replicas }, (_, i) => `${sts.metadata.name}-${i}.${sts.spec.serviceName}`);
      const client = sts.spec.template.spec.containers[0].ports.find((p: K8sObject) => p.name === 'client').containerPort;
      const endpoints = String(find(ms, 'ConfigMap', 'tessera-cluster').data.TESSERA_ETCD).split(',');
      expect(endpoints, overlay).to.deep.equal(members.map((m) => `http://${m}:${client}`));
      const initial = sts.spec.template.spec.containers[0].args.find((a: string) => a.startsWith('--initial-cluster='));
      expect(initial, overlay).to.equal(`--initial-cluster=${members.map((m) => `${m.split('.')[0]}=http://${m}:2380`).join(',')}`);
    }
  });

  it('external-etcd: no etcd is deployed and TESSERA_ETCD points elsewhere', () => {
    const ms = rendered.get('external-etcd')!;
    expect(ms.filter((m) => m.obj.metadata?.labels?.['app.kubernetes.io/component'] === 'etcd')).to.deep.equal([]);
    expect(find(ms, 'ConfigMap', 'tessera-cluster').data.TESSERA_ETCD).not.to.contain('tessera-etcd');
  });

  it('the base alone (no kubectl needed) loads from its files and validates', () => {
    const base = kustomizationFiles(path.join(K8S, 'base')).resources.flatMap(loadFile);
    const f = validateManifests(base);
    expect(f, formatFindings(f)).to.deep.equal([]);
  });
});
