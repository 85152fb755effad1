/**
 * Runs every manifest check over a set of objects and returns the findings, each naming the
 * file and the JSON pointer inside the object:
 *
 * ```ts
 * const findings = validateManifests(renderOverlay('deploy/k8s/overlays/gpu'));
 * expect(findings, formatFindings(findings)).to.deep.equal([]);
 * ```
 */
import { argsFindings } from './args';
import { crossReferenceFindings } from './cross-refs';
import { Finding, findingAt } from './finding';
import { loadFile, Manifest } from './manifests';
import { policyFindings } from './policy';
import { schemaProblems } from './schema';
import { sharedStrictChecker } from './strict-fields';

export interface ValidateOptions {
  /** Also apply the deployment policy and Tessera args checks (default true). */
  policy?: boolean;
}

/** Schema (kubernetes-models) and strict unknown-field problems of one object. */
export function objectFindings(m: Manifest): Finding[] {
  const out: Finding[] = [];
  if (typeof m.obj.apiVersion !== 'string' || typeof m.obj.kind !== 'string' || typeof m.obj.metadata?.name !== 'string') {
    return [findingAt(m, '', 'needs apiVersion, kind and metadata.name', 'schema')];
  }
  for (const p of schemaProblems(m.obj)) out.push(findingAt(m, p.path, p.message, 'schema'));
  for (const p of sharedStrictChecker().check(m.obj)) out.push(findingAt(m, p.path, p.message, 'strict'));
  return out;
}

/** Every check over one set of objects that are deployed together. */
export function validateManifests(manifests: Manifest[], opts: ValidateOptions = {}): Finding[] {
  const out = manifests.flatMap(objectFindings);
  out.push(...crossReferenceFindings(manifests));
  if (opts.policy ?? true) out.push(...policyFindings(manifests), ...argsFindings(manifests));
  return out;
}

/** Loads YAML files and validates their objects as one set. */
export function validateFiles(files: string[], opts: ValidateOptions = {}): Finding[] {
  return validateManifests(files.flatMap(loadFile), opts);
}

/**
 * Strict unknown-field and type problems of strategic-merge patch files: a patch is a partial
 * object, so required fields are not asked for, but every field it sets must exist.
 */
export function patchFindings(files: string[]): Finding[] {
  // A JSON 6902 patch (a list of operations, the tls component's) names paths, not fields; what
  // it writes is checked in the rendered overlays.
  return files.flatMap(loadFile).filter((m) => !Array.isArray(m.obj))
    .flatMap((m) => sharedStrictChecker().check(m.obj).map((p) => findingAt(m, p.path, p.message, 'strict')));
}
