/**
 * Pod-template helpers shared by the checks: which objects run pods, where their pod spec lives,
 * label selectors, and container ports.
 */
import { pointer } from './finding';
import type { K8sObject, Manifest } from './manifests';

/** Kinds whose `spec.template` is a pod template. */
export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'ReplicaSet'];

/** A workload's pod template with the JSON pointer of its pod spec. */
export interface PodTemplate {
  manifest: Manifest;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: K8sObject;
  /** JSON pointer of the pod spec inside the workload, `/spec/template/spec`. */
  specPath: string;
}

/** The pod templates of every workload in `manifests`. */
export function podTemplates(manifests: Manifest[]): PodTemplate[] {
  return manifests.filter((m) => WORKLOAD_KINDS.includes(m.obj.kind) && m.obj.spec?.template).map((manifest) => ({
    manifest,
    labels: manifest.obj.spec.template.metadata?.labels ?? {},
    annotations: manifest.obj.spec.template.metadata?.annotations ?? {},
    spec: manifest.obj.spec.template.spec ?? {},
    specPath: pointer(['spec', 'template', 'spec']),
  }));
}

/** A Kubernetes label selector (`matchLabels` and `matchExpressions`), or a plain Service selector map. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

/** True when `labels` satisfy `selector`. An empty selector matches everything, as in Kubernetes. */
export function selectorMatches(selector: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const ok = e.operator === 'In' ? has && (e.values ?? []).includes(labels[e.key])
      : e.operator === 'NotIn' ? !has || !(e.values ?? []).includes(labels[e.key])
        : e.operator === 'Exists' ? has
          : e.operator === 'DoesNotExist' ? !has : false;
    if (!ok) return false;
  }
  return true;
}

/** True when a container declares `port` (a number or a port name). */
export function containerHasPort(container: K8sObject, port: number | string): boolean {
  return (container.ports ?? []).some((p: K8sObject) => (typeof port === 'number' ? p.containerPort === port : p.name === port));
}

/** True when any container of the pod declares `port`. */
export function podHasPort(spec: K8sObject, port: number | string): boolean {
  return (spec.containers ?? []).some((c: K8sObject) => containerHasPort(c, port));
}

/** Objects of one kind by name. */
export function byKind(manifests: Manifest[], kind: string): Map<string, Manifest> {
  return new Map(manifests.filter((m) => m.obj.kind === kind).map((m) => [String(m.obj.metadata?.name), m]));
}
