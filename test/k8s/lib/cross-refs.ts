/**
 * Cross-reference checks over one set of objects (a rendered overlay, or one fixture file):
 * selectors select pods, named ConfigMaps / PVCs / ServiceAccounts / volumes / Secrets exist (a
 * Secret may be one a cert-manager Certificate of the set writes; its Issuer must exist too), and
 * every port used by a probe, Service, NetworkPolicy or scrape annotation is a container port.
 */
import { Finding, findingAt, pointer } from './finding';
import type { K8sObject, Manifest } from './manifests';
import { byKind, containerHasPort, LabelSelector, podHasPort, PodTemplate, podTemplates, selectorMatches } from './pods';

const CHECK = 'xref';

/** Every cross-reference problem in `manifests`. */
export function crossReferenceFindings(manifests: Manifest[]): Finding[] {
  const pods = podTemplates(manifests);
  return [
    ...serviceFindings(manifests, pods),
    ...selectorFindings(manifests, pods),
    ...pods.flatMap((p) => podSpecFindings(p, manifests)),
    ...certificateFindings(manifests),
  ];
}

/** Secrets the set provides: Secret objects, and those cert-manager writes for its Certificates. */
function secretNames(manifests: Manifest[]): Set<string> {
  return new Set([...byKind(manifests, 'Secret').keys(), ...manifests.filter((m) => m.obj.kind === 'Certificate').map((m) => String(m.obj.spec?.secretName))]);
}

/** cert-manager: a Certificate's issuer exists, and a CA Issuer's Secret is one a Certificate of the set writes. */
function certificateFindings(manifests: Manifest[]): Finding[] {
  const out: Finding[] = [];
  const issuers = byKind(manifests, 'Issuer');
  const secrets = secretNames(manifests);
  for (const cert of manifests.filter((m) => m.obj.kind === 'Certificate')) {
    const ref = cert.obj.spec?.issuerRef ?? {};
    if ((ref.kind ?? 'Issuer') === 'Issuer' && !issuers.has(ref.name)) out.push(findingAt(cert, '/spec/issuerRef/name', `Issuer "${ref.name}" not found`, CHECK));
  }
  for (const issuer of issuers.values()) {
    const ca = issuer.obj.spec?.ca?.secretName;
    if (ca !== undefined && !secrets.has(ca)) out.push(findingAt(issuer, '/spec/ca/secretName', `Secret "${ca}" is neither a Secret nor a Certificate's secretName here`, CHECK));
  }
  return out;
}

function selected(pods: PodTemplate[], selector: LabelSelector): PodTemplate[] {
  return pods.filter((p) => selectorMatches(selector, p.labels));
}

function serviceFindings(manifests: Manifest[], pods: PodTemplate[]): Finding[] {
  const out: Finding[] = [];
  for (const svc of manifests.filter((m) => m.obj.kind === 'Service')) {
    const selector = svc.obj.spec?.selector;
    if (!selector) continue; // a Service without selector is backed by manual Endpoints
    const targets = selected(pods, { matchLabels: selector });
    if (targets.length === 0) {
      out.push(findingAt(svc, '/spec/selector', `selects no pod template (labels ${JSON.stringify(selector)})`, CHECK));
      continue;
    }
    (svc.obj.spec.ports ?? []).forEach((p: K8sObject, i: number) => {
      const target = p.targetPort ?? p.port;
      for (const t of targets.filter((pod) => !podHasPort(pod.spec, target))) {
        out.push(findingAt(svc, pointer(['spec', 'ports', i, p.targetPort === undefined ? 'port' : 'targetPort']),
          `port ${JSON.stringify(target)} is not a container port of ${t.manifest.obj.kind}/${t.manifest.obj.metadata?.name}`, CHECK));
      }
    });
  }
  for (const sts of manifests.filter((m) => m.obj.kind === 'StatefulSet')) {
    const name = sts.obj.spec?.serviceName;
    const svc = byKind(manifests, 'Service').get(name);
    if (!svc) out.push(findingAt(sts, '/spec/serviceName', `Service "${name}" not found`, CHECK));
    else if (svc.obj.spec?.clusterIP !== 'None') out.push(findingAt(sts, '/spec/serviceName', `Service "${name}" is not headless (clusterIP: None)`, CHECK));
  }
  return out;
}

function selectorFindings(manifests: Manifest[], pods: PodTemplate[]): Finding[] {
  const out: Finding[] = [];
  for (const p of pods) {
    const selector = p.manifest.obj.spec?.selector;
    if (selector && p.manifest.obj.kind !== 'Job' && !selectorMatches(selector, p.labels)) {
      out.push(findingAt(p.manifest, '/spec/selector', 'does not match the pod template\'s labels', CHECK));
    }
  }
  for (const pdb of manifests.filter((m) => m.obj.kind === 'PodDisruptionBudget')) {
    const targets = selected(pods, pdb.obj.spec?.selector ?? {});
    if (targets.length === 0) out.push(findingAt(pdb, '/spec/selector', 'selects no pod template', CHECK));
    // Pods without a scale subresource (Job) only support an integer minAvailable.
    if (targets.some((t) => t.manifest.obj.kind === 'Job') && !Number.isInteger(pdb.obj.spec?.minAvailable)) {
      out.push(findingAt(pdb, '/spec', 'selects Job pods, which allow only an integer minAvailable', CHECK));
    }
  }
  for (const np of manifests.filter((m) => m.obj.kind === 'NetworkPolicy')) {
    const targets = selected(pods, np.obj.spec?.podSelector ?? {});
    if (targets.length === 0) out.push(findingAt(np, '/spec/podSelector', 'selects no pod template', CHECK));
    (np.obj.spec?.ingress ?? []).forEach((rule: K8sObject, r: number) => {
      (rule.from ?? []).forEach((peer: K8sObject, f: number) => {
        if (peer.podSelector && !peer.namespaceSelector && selected(pods, peer.podSelector).length === 0) {
          out.push(findingAt(np, pointer(['spec', 'ingress', r, 'from', f, 'podSelector']), 'selects no pod template', CHECK));
        }
      });
      (rule.ports ?? []).forEach((port: K8sObject, i: number) => {
        if (port.port !== undefined && !targets.some((t) => podHasPort(t.spec, port.port))) {
          out.push(findingAt(np, pointer(['spec', 'ingress', r, 'ports', i, 'port']), `port ${JSON.stringify(port.port)} is not a container port of the selected pods`, CHECK));
        }
      });
    });
  }
  return out;
}

function podSpecFindings(p: PodTemplate, manifests: Manifest[]): Finding[] {
  const out: Finding[] = [];
  const at = (rest: Array<string | number>): string => `${p.specPath}${pointer(rest)}`;
  const configMaps = byKind(manifests, 'ConfigMap');
  const secrets = secretNames(manifests);
  const sa = p.spec.serviceAccountName;
  if (sa !== undefined && !byKind(manifests, 'ServiceAccount').has(sa)) out.push(findingAt(p.manifest, at(['serviceAccountName']), `ServiceAccount "${sa}" not found`, CHECK));
  const claimTemplates = new Set((p.manifest.obj.spec?.volumeClaimTemplates ?? []).map((t: K8sObject) => t.metadata?.name));
  const volumes = new Set<string>(claimTemplates as Set<string>);
  (p.spec.volumes ?? []).forEach((v: K8sObject, i: number) => {
    volumes.add(v.name);
    if (v.configMap) {
      const cm = configMaps.get(v.configMap.name);
      if (!cm) out.push(findingAt(p.manifest, at(['volumes', i, 'configMap', 'name']), `ConfigMap "${v.configMap.name}" not found`, CHECK));
      (v.configMap.items ?? []).forEach((item: K8sObject, j: number) => {
        if (cm && cm.obj.data?.[item.key] === undefined) out.push(findingAt(p.manifest, at(['volumes', i, 'configMap', 'items', j, 'key']), `ConfigMap "${v.configMap.name}" has no key "${item.key}"`, CHECK));
      });
    }
    const claim = v.persistentVolumeClaim?.claimName;
    if (claim !== undefined && !byKind(manifests, 'PersistentVolumeClaim').has(claim)) {
      out.push(findingAt(p.manifest, at(['volumes', i, 'persistentVolumeClaim', 'claimName']), `PersistentVolumeClaim "${claim}" not found`, CHECK));
    }
    if (v.secret && !secrets.has(v.secret.secretName)) out.push(findingAt(p.manifest, at(['volumes', i, 'secret', 'secretName']), `Secret "${v.secret.secretName}" not found (no Secret or Certificate makes it)`, CHECK));
  });
  const port = p.annotations['prometheus.io/port'];
  if (port !== undefined && !podHasPort(p.spec, Number(port))) {
    out.push(findingAt(p.manifest, '/spec/template/metadata/annotations/prometheus.io~1port', `scrape port ${port} is not a container port`, CHECK));
  }
  for (const key of ['containers', 'initContainers']) {
    (p.spec[key] ?? []).forEach((c: K8sObject, i: number) => out.push(...containerFindings(p, c, [key, i], volumes, configMaps)));
  }
  return out;
}

function containerFindings(p: PodTemplate, c: K8sObject, base: Array<string | number>, volumes: Set<string>, configMaps: Map<string, Manifest>): Finding[] {
  const out: Finding[] = [];
  const at = (rest: Array<string | number>): string => `${p.specPath}${pointer([...base, ...rest])}`;
  (c.volumeMounts ?? []).forEach((vm: K8sObject, i: number) => {
    if (!volumes.has(vm.name)) out.push(findingAt(p.manifest, at(['volumeMounts', i, 'name']), `volume "${vm.name}" not found in the pod`, CHECK));
  });
  const defined: string[] = [];
  (c.env ?? []).forEach((e: K8sObject, i: number) => {
    const ref = e.valueFrom?.configMapKeyRef;
    if (ref) {
      const cm = configMaps.get(ref.name);
      if (!cm) out.push(findingAt(p.manifest, at(['env', i, 'valueFrom', 'configMapKeyRef', 'name']), `ConfigMap "${ref.name}" not found`, CHECK));
      else if (cm.obj.data?.[ref.key] === undefined && !ref.optional) out.push(findingAt(p.manifest, at(['env', i, 'valueFrom', 'configMapKeyRef', 'key']), `ConfigMap "${ref.name}" has no key "${ref.key}"`, CHECK));
    }
    // Kubernetes expands $(VAR) in an env value only from variables defined before it.
    for (const v of varRefs(e.value)) if (!defined.includes(v)) out.push(findingAt(p.manifest, at(['env', i, 'value']), `$(${v}) is not defined before this variable`, CHECK));
    defined.push(e.name);
  });
  (c.envFrom ?? []).forEach((e: K8sObject, i: number) => {
    if (e.configMapRef && !configMaps.has(e.configMapRef.name)) out.push(findingAt(p.manifest, at(['envFrom', i, 'configMapRef', 'name']), `ConfigMap "${e.configMapRef.name}" not found`, CHECK));
  });
  for (const field of ['command', 'args']) {
    (c[field] ?? []).forEach((a: string, i: number) => {
      // An undefined $(VAR) stays literally in the argument: always a mistake here.
      for (const v of varRefs(a)) if (!defined.includes(v)) out.push(findingAt(p.manifest, at([field, i]), `$(${v}) is not a variable of this container`, CHECK));
    });
  }
  for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
    const pr = c[probe];
    if (!pr) continue;
    const [kind, port] = pr.grpc ? ['grpc', pr.grpc.port] : pr.httpGet ? ['httpGet', pr.httpGet.port] : pr.tcpSocket ? ['tcpSocket', pr.tcpSocket.port] : [undefined, undefined];
    if (kind && !containerHasPort(c, port)) out.push(findingAt(p.manifest, at([probe, kind as string, 'port']), `probe port ${JSON.stringify(port)} is not a port of container "${c.name}"`, CHECK));
  }
  return out;
}

/** Names referenced as $(NAME) in a string ($$(NAME) is an escape, not a reference). */
export function varRefs(s: unknown): string[] {
  if (typeof s !== 'string') return [];
  return [...s.matchAll(/(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)].map((m) => m[1]);
}
