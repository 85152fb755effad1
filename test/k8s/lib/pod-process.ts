/**
 * What one pod of a rendered workload would run: the pods a workload creates (names, downward-API
 * fields), and for one container of such a pod its argv (image entrypoint + args, `$(VAR)`
 * expanded), its environment (image ENV, pod hostname, resolved `env`), its volume mounts and
 * its container ports. Pure: nothing is started here.
 */
import * as fs from 'fs';
import { expandK8s, PodIdentity, resolveEnv } from './expansion';
import type { K8sObject, Manifest } from './manifests';
import { byKind } from './pods';

/** The image's ENTRYPOINT and ENV (what the container runtime adds around `args`). */
export interface ImageConfig {
  entrypoint: string[];
  env: Record<string, string>;
}

/** A volume as a local run shares it: PVCs, ConfigMaps and Secrets across pods, emptyDirs per pod. */
export interface Mount {
  mountPath: string;
  /** `pvc/<claim>`, `configMap/<name>`, `secret/<name>` or `emptyDir/<pod>/<volume>`. */
  volume: string;
  readOnly: boolean;
  /** For a ConfigMap volume: file path in the mount → ConfigMap key. */
  files?: Record<string, string>;
}

/** One container of one pod, as rendered. */
export interface PodProcess {
  /** `Kind/name` of the workload. */
  workload: string;
  pod: PodIdentity;
  container: string;
  /** Entrypoint + args after `$(VAR)` expansion: the process's argv. */
  argv: string[];
  /** The declared `env`, resolved (what the manifest says). */
  env: Record<string, string>;
  /** What the runtime adds: image ENV and HOSTNAME (declared env wins over these). */
  runtimeEnv: Record<string, string>;
  mounts: Mount[];
  /** Container port numbers by name. */
  ports: Record<string, number>;
}

/** ENTRYPOINT and ENV of the last stage of a Dockerfile (exec-form ENTRYPOINT, `ENV K=V` lines). */
export function dockerImageConfig(dockerfile: string): ImageConfig {
  const stages = fs.readFileSync(dockerfile, 'utf8').split(/^FROM\s/m);
  const last = stages[stages.length - 1];
  const entry = [...last.matchAll(/^ENTRYPOINT\s+(\[.*\])\s*$/gm)].pop();
  if (!entry) throw new Error(`${dockerfile}: the final stage has no exec-form ENTRYPOINT`);
  const env: Record<string, string> = {};
  for (const m of last.matchAll(/^ENV\s+([A-Za-z_][A-Za-z0-9_]*)=(\S+)\s*$/gm)) env[m[1]] = m[2];
  return { entrypoint: JSON.parse(entry[1]) as string[], env };
}

function randomSuffix(n: number): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789'; // the alphabet of Kubernetes' generated names
  return Array.from({ length: n }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join('');
}

/**
 * The pods a workload creates, as its controller names them: StatefulSet `<name>-<ordinal>`,
 * Deployment `<name>-<hash>-<rand>`, Indexed Job `<name>-<index>-<rand>` with the completion-index
 * annotation. `count` overrides replicas / parallelism.
 */
export function podsOf(workload: K8sObject, count?: number): PodIdentity[] {
  const name = String(workload.metadata?.name);
  const spec = workload.spec ?? {};
  const base = { namespace: 'default', labels: spec.template?.metadata?.labels ?? {}, serviceAccountName: spec.template?.spec?.serviceAccountName };
  const annotations = spec.template?.metadata?.annotations ?? {};
  if (workload.kind === 'StatefulSet') {
    return Array.from({ length: count ?? spec.replicas ?? 1 }, (_, i) => ({ ...base, name: `${name}-${i}`, annotations }));
  }
  if (workload.kind === 'Deployment') {
    const hash = randomSuffix(10);
    return Array.from({ length: count ?? spec.replicas ?? 1 }, () => ({ ...base, name: `${name}-${hash}-${randomSuffix(5)}`, annotations }));
  }
  if (workload.kind === 'Job' && spec.completionMode === 'Indexed') {
    return Array.from({ length: count ?? spec.parallelism ?? 1 }, (_, i) => ({
      ...base, name: `${name}-${i}-${randomSuffix(5)}`, annotations: { ...annotations, 'batch.kubernetes.io/job-completion-index': String(i) },
    }));
  }
  throw new Error(`${String(workload.kind)}/${name}: pod naming not modelled for local runs`);
}

function mountsOf(container: K8sObject, podSpec: K8sObject, pod: PodIdentity): Mount[] {
  const volumes = new Map<string, K8sObject>((podSpec.volumes ?? []).map((v: K8sObject) => [v.name, v]));
  return ((container.volumeMounts ?? []) as K8sObject[]).map((vm) => {
    const v = volumes.get(vm.name);
    if (!v) throw new Error(`volumeMount ${String(vm.name)}: no such volume`);
    if (vm.subPath) throw new Error(`volumeMount ${String(vm.name)}: subPath is not modelled for local runs`);
    const readOnly = vm.readOnly === true;
    const mountPath = String(vm.mountPath);
    if (v.persistentVolumeClaim) return { mountPath, volume: `pvc/${String(v.persistentVolumeClaim.claimName)}`, readOnly };
    if (v.emptyDir) return { mountPath, volume: `emptyDir/${pod.name}/${String(v.name)}`, readOnly };
    if (v.configMap) {
      const items = v.configMap.items as K8sObject[] | undefined;
      const files = items ? Object.fromEntries(items.map((i) => [String(i.path), String(i.key)])) : undefined;
      return { mountPath, volume: `configMap/${String(v.configMap.name)}`, readOnly: true, files };
    }
    if (v.secret && !v.secret.items) return { mountPath, volume: `secret/${String(v.secret.secretName)}`, readOnly: true };
    throw new Error(`volume ${String(v.name)}: only persistentVolumeClaim, emptyDir, configMap and secret (without items) are modelled`);
  });
}

/** The process container `containerName` of `pod` (a pod of `workload`) would run. */
export function podProcess(manifests: Manifest[], workload: K8sObject, pod: PodIdentity, containerName: string, image: ImageConfig): PodProcess {
  const podSpec = workload.spec?.template?.spec ?? {};
  const c = ((podSpec.containers ?? []) as K8sObject[]).find((x) => x.name === containerName);
  const id = `${String(workload.kind)}/${String(workload.metadata?.name)}`;
  if (!c) throw new Error(`${id}: no container ${containerName}`);
  const configMaps = new Map([...byKind(manifests, 'ConfigMap')].map(([k, m]) => [k, m.obj]));
  const env = resolveEnv(c, pod, configMaps);
  // The kubelet expands the container's command and args, never the image's ENTRYPOINT.
  const expand = (xs: unknown[] | undefined): string[] => (xs ?? []).map((x) => expandK8s(String(x), env));
  const argv = [...(c.command ? expand(c.command) : image.entrypoint), ...expand(c.args)];
  const runtimeEnv: Record<string, string> = { ...image.env, HOSTNAME: pod.name };
  if (workload.kind === 'Job' && workload.spec?.completionMode === 'Indexed') {
    // The Job controller sets it on every container of an Indexed Job's pods.
    runtimeEnv.JOB_COMPLETION_INDEX = pod.annotations?.['batch.kubernetes.io/job-completion-index'] ?? '';
  }
  const ports = Object.fromEntries(((c.ports ?? []) as K8sObject[]).map((p) => [String(p.name ?? p.containerPort), Number(p.containerPort)]));
  return { workload: id, pod, container: containerName, argv, env, runtimeEnv, mounts: mountsOf(c, podSpec, pod), ports };
}
