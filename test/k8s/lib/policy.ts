/**
 * Deployment policy of issue #7: every workload has a PodDisruptionBudget, readiness and
 * liveness probes (gRPC health for Tessera's own containers, or the KServe v2 HTTP health of
 * `tessera serve`, asked by the kubelet or, with mutual TLS, by `tessera health`), CPU and memory requests and
 * limits, a non-root and read-only-root securityContext with a writable /tmp, and its own
 * ServiceAccount; Tessera pods keep Service links off and carry Prometheus scrape annotations.
 */
import { Finding, findingAt, pointer } from './finding';
import type { K8sObject, Manifest } from './manifests';
import { PodTemplate, podTemplates, selectorMatches } from './pods';
import { probeTarget } from './probes';

const CHECK = 'policy';

/** True for a container running a Tessera image (tessera, tessera-gpu, with any registry and tag). */
export function isTesseraContainer(c: K8sObject): boolean {
  return /(^|\/)tessera(-gpu)?([:@]|$)/.test(String(c.image ?? ''));
}

/** Every policy problem in `manifests`. */
export function policyFindings(manifests: Manifest[]): Finding[] {
  const pdbs = manifests.filter((m) => m.obj.kind === 'PodDisruptionBudget');
  return podTemplates(manifests).flatMap((p) => {
    const out = podPolicy(p);
    if (!pdbs.some((pdb) => selectorMatches(pdb.obj.spec?.selector ?? {}, p.labels))) {
      out.push(findingAt(p.manifest, '/spec/template/metadata/labels', 'no PodDisruptionBudget selects these pods', CHECK));
    }
    return out;
  });
}

function podPolicy(p: PodTemplate): Finding[] {
  const out: Finding[] = [];
  const at = (rest: Array<string | number>): string => `${p.specPath}${pointer(rest)}`;
  const fail = (rest: Array<string | number>, message: string): void => void out.push(findingAt(p.manifest, at(rest), message, CHECK));
  const tessera = (p.spec.containers ?? []).some(isTesseraContainer);
  if (!p.spec.serviceAccountName || p.spec.serviceAccountName === 'default') fail(['serviceAccountName'], 'needs its own ServiceAccount');
  if (p.spec.securityContext?.runAsNonRoot !== true) fail(['securityContext', 'runAsNonRoot'], 'must be true');
  if (tessera && p.spec.enableServiceLinks !== false) fail(['enableServiceLinks'], 'must be false: Service links inject TESSERA_*_PORT variables');
  if (tessera && p.annotations['prometheus.io/scrape'] !== 'true') {
    out.push(findingAt(p.manifest, '/spec/template/metadata/annotations', 'needs prometheus.io/scrape: "true" and prometheus.io/port', CHECK));
  }
  const emptyDirs = new Set((p.spec.volumes ?? []).filter((v: K8sObject) => v.emptyDir).map((v: K8sObject) => v.name));
  (p.spec.containers ?? []).forEach((c: K8sObject, i: number) => {
    const base = ['containers', i];
    for (const probe of ['readinessProbe', 'livenessProbe']) {
      if (!c[probe]) fail([...base, probe], 'missing');
      else if (isTesseraContainer(c)) {
        const t = probeTarget(c[probe]);
        if (!t || (t.path !== undefined && !t.path.startsWith('/v2/health/'))) {
          fail([...base, probe], 'must use gRPC health (grpc: {port}), the KServe v2 health endpoints (httpGet /v2/health/…) or `tessera health` (exec, for mutual TLS)');
        }
      }
    }
    for (const kind of ['requests', 'limits']) {
      for (const r of ['cpu', 'memory']) if (c.resources?.[kind]?.[r] === undefined) fail([...base, 'resources', kind, r], 'missing');
    }
    // Extended resources (nvidia.com/gpu, ...) cannot be overcommitted: requests must equal limits.
    for (const [r, v] of Object.entries(c.resources?.limits ?? {})) {
      if (r.includes('/') && String(c.resources?.requests?.[r] ?? v) !== String(v)) fail([...base, 'resources', 'requests', r], `must equal limits.${r}`);
    }
    const sc = c.securityContext ?? {};
    if (sc.readOnlyRootFilesystem !== true) fail([...base, 'securityContext', 'readOnlyRootFilesystem'], 'must be true');
    if (sc.allowPrivilegeEscalation !== false) fail([...base, 'securityContext', 'allowPrivilegeEscalation'], 'must be false');
    if (!(c.volumeMounts ?? []).some((vm: K8sObject) => vm.mountPath === '/tmp' && emptyDirs.has(vm.name))) {
      fail([...base, 'volumeMounts'], 'needs an emptyDir at /tmp (the root filesystem is read-only)');
    }
  });
  return out;
}
