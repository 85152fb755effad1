/**
 * Ids derived from a StatefulSet pod's name. Kubernetes names StatefulSet pods `<set>-<ordinal>`
 * and keeps the name across restarts, but offers no portable way to pass the ordinal alone to a
 * container (the `apps.kubernetes.io/pod-index` label needs Kubernetes ≥ 1.28). So an id may
 * contain the placeholder `{ordinal}`, filled from the pod name:
 *
 * ```ts
 * expandOrdinal('ps-{ordinal}', 'tessera-ps-3'); // 'ps-3'
 * ```
 *
 * deploy/k8s/base/ps.yaml passes `--id ps-{ordinal}` with TESSERA_POD_NAME from the downward API.
 */
import { ERROR_CODES, TesseraError } from './errors';

/** The placeholder an id may contain. */
export const ORDINAL_PLACEHOLDER = '{ordinal}';

/** The trailing ordinal of a StatefulSet pod name (`tessera-ps-12` → 12); throws when there is none. */
export function podOrdinal(podName: string): number {
  const m = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?-(0|[1-9][0-9]{0,8})$/.exec(podName);
  if (!m) {
    throw new TesseraError(ERROR_CODES.CONFIG, `pod name "${podName}" does not end in -<ordinal> (a StatefulSet pod name such as tessera-ps-3)`);
  }
  return Number(m[2]);
}

/**
 * Replaces every `{ordinal}` in `id` with the ordinal of `podName`. An id without the
 * placeholder is returned unchanged. `source` names where the id came from, for errors.
 */
export function expandOrdinal(id: string, podName: string | undefined, source = '--id'): string {
  if (!id.includes(ORDINAL_PLACEHOLDER)) return id;
  if (podName === undefined || podName === '') {
    throw new TesseraError(ERROR_CODES.CONFIG,
      `${source} "${id}" uses ${ORDINAL_PLACEHOLDER} but TESSERA_POD_NAME is not set (set it to the pod name, e.g. from the downward API metadata.name)`);
  }
  return id.split(ORDINAL_PLACEHOLDER).join(String(podOrdinal(podName)));
}
