/**
 * Schema validation with kubernetes-models: the AJV validators generated from the Kubernetes
 * OpenAPI document (types, required fields, enums, formats such as quantities), and for
 * cert-manager's and prometheus-operator's objects the same project's packages generated from
 * their CRDs. They accept unknown fields; strict-fields.ts covers those.
 */
import type { FieldProblem } from './strict-fields';
import type { K8sObject } from './manifests';

interface AjvError { instancePath: string; message?: string; params?: Record<string, unknown>; keyword: string }
interface ModelClass { new (data: K8sObject): { validate(): void } }

/** The package holding the models of an API group outside Kubernetes' own (same layout, same validators). */
export const THIRD_PARTY_MODELS: Readonly<Record<string, string>> = {
  'cert-manager.io': '@kubernetes-models/cert-manager',
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
};

/** The module of `apiVersion`'s `kind` model: kubernetes-models, or the third-party package of its group. */
export function modelModule(apiVersion: string, kind: string): string {
  return `${THIRD_PARTY_MODELS[apiVersion.split('/')[0]] ?? 'kubernetes-models'}/${apiVersion}/${kind}`;
}

function modelFor(apiVersion: string, kind: string): ModelClass | undefined {
  if (!/^[A-Za-z0-9.-]+(\/v[0-9a-z]+)?$/.test(apiVersion) || !/^[A-Za-z]+$/.test(kind)) return undefined;
  try {
    // kubernetes-models lays out one module per apiVersion/kind, exporting the model class by kind.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(modelModule(apiVersion, kind)) as Record<string, unknown>;
    return mod[kind] as ModelClass | undefined;
  } catch {
    return undefined;
  }
}

/** Validates one object against its kubernetes-models schema; returns one problem per AJV error. */
export function schemaProblems(obj: K8sObject): FieldProblem[] {
  const Model = modelFor(String(obj.apiVersion), String(obj.kind));
  if (!Model) return [{ path: '', message: `kubernetes-models has no schema for apiVersion "${String(obj.apiVersion)}" kind "${String(obj.kind)}"` }];
  try {
    new Model(obj).validate();
    return [];
  } catch (err) {
    const errors = (err as { errors?: AjvError[] }).errors;
    if (!errors) return [{ path: '', message: (err as Error).message }];
    return errors.map((e) => {
      const missing = e.keyword === 'required' ? ` "${String(e.params?.missingProperty)}"` : '';
      return { path: e.instancePath, message: `${e.message ?? e.keyword}${missing}` };
    });
  }
}
