/**
 * Strict structural check of Kubernetes objects: every field must exist in the API type, and
 * every value must have the field's type.
 *
 * kubernetes-models validates with AJV validators generated from the Kubernetes OpenAPI
 * document, which (like the API server without `--validate=strict`) allows unknown properties,
 * so a typo such as `imagee:` passes it. kubernetes-models also ships a TypeScript declaration
 * for every API type, generated from the same document. This module loads those declarations
 * with the TypeScript compiler (already a devDependency) and walks each object against the
 * declared type: unknown keys, wrong JSON types and values outside a literal enum are reported
 * with the JSON pointer where they occur. See docs/adr/0004-kubernetes-deployment.md.
 */
import * as path from 'path';
import * as ts from 'typescript';
import { pointer } from './finding';
import { modelModule } from './schema';
import { editDistance } from '../../../src/common/edit-distance';

/** A problem found by the walk: where (JSON pointer) and what. */
export interface FieldProblem {
  path: string;
  message: string;
}

/** API kinds the check knows, as `apiVersion` → kinds. kubernetes-models lays files out the same way. */
export const STRICT_KINDS: Readonly<Record<string, readonly string[]>> = {
  v1: ['ConfigMap', 'Secret', 'Service', 'ServiceAccount', 'PersistentVolumeClaim', 'Pod', 'Namespace'],
  'apps/v1': ['StatefulSet', 'Deployment', 'DaemonSet'],
  'batch/v1': ['Job', 'CronJob'],
  'policy/v1': ['PodDisruptionBudget'],
  'networking.k8s.io/v1': ['NetworkPolicy'],
  'rbac.authorization.k8s.io/v1': ['Role', 'RoleBinding'],
  'cert-manager.io/v1': ['Certificate', 'Issuer'],
};

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const VIRTUAL_FILE = path.join(REPO_ROOT, '__strict_k8s_types__.ts');

function aliasName(apiVersion: string, kind: string): string {
  return `T_${apiVersion.replace(/[^A-Za-z0-9]/g, '_')}_${kind}`;
}

/** Checks objects against kubernetes-models' declared API types; build once, reuse. */
export class StrictFieldChecker {
  private readonly checker: ts.TypeChecker;
  private readonly roots = new Map<string, ts.Type>();

  constructor() {
    const lines: string[] = [];
    for (const [apiVersion, kinds] of Object.entries(STRICT_KINDS)) {
      for (const kind of kinds) {
        lines.push(`export type ${aliasName(apiVersion, kind)} = import("${modelModule(apiVersion, kind)}").I${kind};`);
      }
    }
    const source = lines.join('\n');
    const options: ts.CompilerOptions = {
      strict: true, noEmit: true, skipLibCheck: true, types: [],
      target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10,
    };
    const host = ts.createCompilerHost(options);
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (name, lang, onError, create) => (path.resolve(name) === VIRTUAL_FILE
      ? ts.createSourceFile(name, source, lang, true) : getSourceFile(name, lang, onError, create));
    const fileExists = host.fileExists.bind(host);
    host.fileExists = (name) => path.resolve(name) === VIRTUAL_FILE || fileExists(name);
    const program = ts.createProgram([VIRTUAL_FILE], options, host);
    const unresolved = program.getSemanticDiagnostics(program.getSourceFile(VIRTUAL_FILE));
    if (unresolved.length > 0) {
      throw new Error(`cannot load kubernetes-models types: ${ts.flattenDiagnosticMessageText(unresolved[0].messageText, '\n')}`);
    }
    this.checker = program.getTypeChecker();
    const file = program.getSourceFile(VIRTUAL_FILE)!;
    for (const stmt of file.statements) {
      if (ts.isTypeAliasDeclaration(stmt)) this.roots.set(stmt.name.text, this.checker.getTypeAtLocation(stmt.name));
    }
  }

  /** True when this checker has a type for the object's apiVersion and kind. */
  knows(apiVersion: string, kind: string): boolean {
    return this.roots.has(aliasName(apiVersion, kind));
  }

  /** Walks `obj` against the type of its apiVersion/kind and returns every problem found. */
  check(obj: Record<string, unknown>): FieldProblem[] {
    const type = this.roots.get(aliasName(String(obj.apiVersion), String(obj.kind)));
    if (!type) return [{ path: '', message: `no API type known for apiVersion "${String(obj.apiVersion)}" kind "${String(obj.kind)}"` }];
    const problems: FieldProblem[] = [];
    this.walk(obj, type, [], problems);
    return problems;
  }

  private walk(value: unknown, type: ts.Type, at: Array<string | number>, out: FieldProblem[]): void {
    if (type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return;
    if (type.isUnion()) return this.walkUnion(value, type, at, out);
    const mismatch = this.primitiveMismatch(value, type);
    if (mismatch !== undefined) {
      if (mismatch) out.push({ path: pointer(at), message: mismatch });
      return;
    }
    if (this.checker.isArrayType(type)) {
      if (!Array.isArray(value)) return void out.push({ path: pointer(at), message: `expected an array, got ${describe(value)}` });
      const element = this.checker.getTypeArguments(type as ts.TypeReference)[0];
      value.forEach((v, i) => this.walk(v, element, [...at, i], out));
      return;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return void out.push({ path: pointer(at), message: `expected an object, got ${describe(value)}` });
    }
    this.walkObject(value as Record<string, unknown>, type, at, out);
  }

  private walkObject(value: Record<string, unknown>, type: ts.Type, at: Array<string | number>, out: FieldProblem[]): void {
    const props = new Map(this.checker.getPropertiesOfType(type).map((p) => [p.name, p]));
    const index = this.checker.getIndexInfosOfType(type).find((i) => i.keyType.flags & ts.TypeFlags.String);
    for (const [key, v] of Object.entries(value)) {
      const prop = props.get(key);
      if (prop) {
        this.walk(v, this.checker.getTypeOfSymbolAtLocation(prop, prop.valueDeclaration!), [...at, key], out);
      } else if (index) {
        this.walk(v, index.type, [...at, key], out);
      } else {
        const hint = closest(key, [...props.keys()]);
        out.push({ path: pointer([...at, key]), message: `unknown field "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}` });
      }
    }
  }

  private walkUnion(value: unknown, type: ts.UnionType, at: Array<string | number>, out: FieldProblem[]): void {
    const members = type.types.filter((t) => !(t.flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Null)));
    if (members.length === 1) return this.walk(value, members[0], at, out);
    if (members.every((t) => t.flags & ts.TypeFlags.BooleanLiteral)) {
      if (typeof value !== 'boolean') out.push({ path: pointer(at), message: `expected a boolean, got ${describe(value)}` });
      return;
    }
    const literals = members.filter((t) => t.isLiteral() || (t.flags & ts.TypeFlags.BooleanLiteral));
    if (literals.length === members.length) {
      const allowed = literals.map((t) => this.checker.typeToString(t));
      if (!literals.some((t) => this.primitiveMismatch(value, t) === '')) {
        out.push({ path: pointer(at), message: `${JSON.stringify(value)} is not one of ${allowed.join(', ')}` });
      }
      return;
    }
    // Mixed unions (IntOrString, Quantity): accept the first member the value fits.
    for (const member of members) {
      const trial: FieldProblem[] = [];
      this.walk(value, member, at, trial);
      if (trial.length === 0) return;
    }
    out.push({ path: pointer(at), message: `expected ${this.checker.typeToString(type)}, got ${describe(value)}` });
  }

  /** '' when a primitive/literal type matches, a message when not, undefined when not primitive. */
  private primitiveMismatch(value: unknown, type: ts.Type): string | undefined {
    const want = (ok: boolean, what: string): string => (ok ? '' : `expected ${what}, got ${describe(value)}`);
    if (type.flags & ts.TypeFlags.String) return want(typeof value === 'string', 'a string');
    if (type.flags & ts.TypeFlags.Number) return want(typeof value === 'number', 'a number');
    if (type.flags & ts.TypeFlags.Boolean) return want(typeof value === 'boolean', 'a boolean');
    if (type.isStringLiteral() || type.isNumberLiteral()) return want(value === type.value, JSON.stringify(type.value));
    if (type.flags & ts.TypeFlags.BooleanLiteral) {
      return want(value === (this.checker.typeToString(type) === 'true'), this.checker.typeToString(type));
    }
    return undefined;
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** The known name nearest to `key` by edit distance, if it is close enough to be a typo. */
function closest(key: string, names: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const name of names) {
    const d = editDistance(key.toLowerCase(), name.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  return best;
}

let shared: StrictFieldChecker | undefined;

/** One checker per process: loading the declarations takes about a second and a half. */
export function sharedStrictChecker(): StrictFieldChecker {
  shared ??= new StrictFieldChecker();
  return shared;
}
