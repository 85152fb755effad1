/**
 * What the kubelet does to a container's `env` and `args` before it starts the process:
 * resolves `valueFrom` (ConfigMap keys, downward-API fields) and expands `$(VAR)` references.
 *
 * `expandK8s` is a transcription of Kubernetes' own algorithm
 * (kubernetes: third_party/forked/golang/expansion/expand.go): `$(NAME)` is replaced when NAME
 * is defined and kept verbatim when it is not, `$$` is an escaped `$`, and anything else after
 * a `$` (including an unclosed `$(`) is copied as is.
 */
import type { K8sObject } from './manifests';

/** The pod fields the downward API can give a container (what `fieldRef` reads). */
export interface PodIdentity {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  serviceAccountName?: string;
}

/** Expands `$(VAR)` in `input` as the kubelet does, with `vars` as the only defined names. */
export function expandK8s(input: string, vars: Readonly<Record<string, string>>): string {
  let out = '';
  let checkpoint = 0;
  for (let cursor = 0; cursor < input.length; cursor++) {
    if (input[cursor] !== '$' || cursor + 1 >= input.length) continue;
    out += input.slice(checkpoint, cursor);
    const rest = input.slice(cursor + 1);
    let advance = 1;
    if (rest[0] === '$') {
      out += '$';
    } else if (rest[0] === '(') {
      const close = rest.indexOf(')', 1);
      if (close < 0) {
        out += '$(';
      } else {
        const name = rest.slice(1, close);
        out += Object.prototype.hasOwnProperty.call(vars, name) ? vars[name] : `$(${name})`;
        advance = close + 1;
      }
    } else {
      out += `$${rest[0]}`;
    }
    cursor += advance;
    checkpoint = cursor + 1;
  }
  return out + input.slice(checkpoint);
}

/** The value of a downward-API `fieldPath` for `pod`; throws on a field this helper does not model. */
export function podField(pod: PodIdentity, fieldPath: string): string {
  if (fieldPath === 'metadata.name') return pod.name;
  if (fieldPath === 'metadata.namespace') return pod.namespace ?? 'default';
  if (fieldPath === 'spec.serviceAccountName' && pod.serviceAccountName) return pod.serviceAccountName;
  const m = /^metadata\.(labels|annotations)\['([^']+)'\]$/.exec(fieldPath);
  if (m) {
    const v = (m[1] === 'labels' ? pod.labels : pod.annotations)?.[m[2]];
    if (v !== undefined) return v;
    // The kubelet gives an empty string for a missing label or annotation.
    return '';
  }
  throw new Error(`fieldRef ${fieldPath}: not modelled for local runs`);
}

/** A CPU quantity ("2", "500m", "1.5") in cores; NaN when it is not one. */
function cpuCores(q: unknown): number {
  const s = String(q ?? '');
  return s.endsWith('m') ? Number(s.slice(0, -1)) / 1000 : s === '' ? NaN : Number(s);
}

/**
 * The value of a downward-API `resourceFieldRef` on CPU, as the kubelet gives it: the container's
 * request or limit divided by `divisor` (default 1), rounded up to a whole number. Throws on any
 * other resource, or a CPU the container does not set (the kubelet would give the node's).
 */
export function resourceField(container: K8sObject, ref: K8sObject): string {
  const m = /^(limits|requests)\.cpu$/.exec(String(ref.resource));
  if (!m) throw new Error(`resourceFieldRef ${String(ref.resource)}: not modelled for local runs`);
  const cores = cpuCores(container.resources?.[m[1]]?.cpu);
  const divisor = ref.divisor === undefined ? 1 : cpuCores(ref.divisor);
  if (!Number.isFinite(cores) || !(divisor > 0)) throw new Error(`resourceFieldRef ${String(ref.resource)}: container ${String(container.name)} sets no ${m[0]}`);
  return String(Math.ceil(cores / divisor));
}

/**
 * A container's environment as the kubelet builds it: in declaration order, `value` expanded
 * against the variables declared before it, `configMapKeyRef` read from `configMaps`, `fieldRef`
 * from `pod`, `resourceFieldRef` on CPU from the container's resources. Throws on `envFrom`,
 * secrets, other resource fields and missing non-optional keys: a local run must not silently guess.
 */
export function resolveEnv(container: K8sObject, pod: PodIdentity, configMaps: ReadonlyMap<string, K8sObject>): Record<string, string> {
  if (container.envFrom) throw new Error(`container ${String(container.name)}: envFrom is not modelled for local runs`);
  const env: Record<string, string> = {};
  for (const e of (container.env ?? []) as K8sObject[]) {
    const name = String(e.name);
    if (e.valueFrom === undefined) {
      env[name] = expandK8s(String(e.value ?? ''), env);
      continue;
    }
    const ref = e.valueFrom.configMapKeyRef;
    const field = e.valueFrom.fieldRef?.fieldPath;
    if (ref) {
      const v = configMaps.get(ref.name)?.data?.[ref.key];
      if (v === undefined && ref.optional !== true) throw new Error(`env ${name}: ConfigMap ${String(ref.name)} has no key ${String(ref.key)}`);
      if (v !== undefined) env[name] = String(v);
    } else if (field !== undefined) {
      env[name] = podField(pod, String(field));
    } else if (e.valueFrom.resourceFieldRef) {
      env[name] = resourceField(container, e.valueFrom.resourceFieldRef);
    } else {
      throw new Error(`env ${name}: valueFrom ${Object.keys(e.valueFrom).join(', ')} is not modelled for local runs`);
    }
  }
  return env;
}
