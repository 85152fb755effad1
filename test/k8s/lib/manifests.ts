/**
 * Loading manifests with their origin: plain YAML files (each object knows its file and can
 * map a path inside it to a line) and rendered overlays (each object is attributed to the base
 * file that declares it, found by walking the kustomization tree).
 */
import * as fs from 'fs';
import * as path from 'path';
import { Document, LineCounter, parseAllDocuments, parseDocument } from 'yaml';
import { kustomize } from './kubectl';
import { segmentsOf } from './finding';

/** Repository root (test files run from dist/test/k8s/lib). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..', '..');

/** A Kubernetes object of any kind, as parsed from YAML. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type K8sObject = Record<string, any>;

/** One object with where it came from. */
export interface Manifest {
  obj: K8sObject;
  /** File that declares the object, relative to the repository root. */
  file: string;
  /** 1-based line of a JSON pointer inside the object in `file`, when the file has that path. */
  lineOf(ptr: string): number | undefined;
}

/** `Kind/name`. */
export function objectId(obj: K8sObject): string {
  return `${String(obj?.kind)}/${String(obj?.metadata?.name)}`;
}

function relative(file: string): string {
  return path.relative(REPO_ROOT, path.resolve(file));
}

function lineFinder(doc: Document, counter: LineCounter): (ptr: string) => number | undefined {
  return (ptr) => {
    // The deepest node on the path that exists: a missing or unknown key points at its parent.
    const segments: Array<string | number> = segmentsOf(ptr).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
    for (let n = segments.length; n >= 0; n--) {
      const node = doc.getIn(segments.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      if (node && node.range) return counter.linePos(node.range[0]).line;
    }
    return undefined;
  };
}

/** Parses every YAML document of `file` (empty documents skipped). Throws naming the file on a syntax error. */
export function loadFile(file: string): Manifest[] {
  const counter = new LineCounter();
  const docs = parseAllDocuments(fs.readFileSync(file, 'utf8'), { lineCounter: counter });
  const out: Manifest[] = [];
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    if (doc.errors.length > 0) throw new Error(`${relative(file)}: ${doc.errors[0].message}`);
    const obj = doc.toJS() as K8sObject | null;
    if (obj === null || obj === undefined) continue;
    out.push({ obj, file: relative(file), lineOf: lineFinder(doc, counter) });
  }
  return out;
}

/** The files a kustomization tree declares: resources (objects) and strategic-merge patches. */
export interface KustomizationFiles {
  resources: string[];
  patches: string[];
}

/**
 * Walks `dir`'s kustomization.yaml and every directory it names (resources and components),
 * collecting resource files and the files of `patches` entries.
 */
export function kustomizationFiles(dir: string): KustomizationFiles {
  const kust = parseDocument(fs.readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')).toJS() ?? {};
  const out: KustomizationFiles = { resources: [], patches: [] };
  for (const entry of [...(kust.resources ?? []), ...(kust.components ?? [])] as string[]) {
    const p = path.resolve(dir, entry);
    if (fs.statSync(p).isDirectory()) {
      const sub = kustomizationFiles(p);
      out.resources.push(...sub.resources);
      out.patches.push(...sub.patches);
    } else {
      out.resources.push(p);
    }
  }
  for (const entry of (kust.patches ?? []) as { path?: string }[]) if (entry.path) out.patches.push(path.resolve(dir, entry.path));
  return out;
}

/**
 * Renders an overlay with kubectl and attributes each object to the resource file declaring
 * it, so findings name `deploy/k8s/base/ps.yaml`, not an anonymous stream.
 */
export function renderOverlay(dir: string): Manifest[] {
  const origin = new Map<string, Manifest>();
  for (const file of kustomizationFiles(dir).resources) {
    for (const m of loadFile(file)) origin.set(objectId(m.obj), m);
  }
  const rendered = parseAllDocuments(kustomize(dir));
  return (Array.isArray(rendered) ? rendered : [rendered]).map((doc) => doc.toJS() as K8sObject).filter((o) => o).map((obj) => {
    const source = origin.get(objectId(obj));
    return {
      obj,
      file: source ? source.file : `${relative(dir)} (rendered)`,
      lineOf: source ? source.lineOf : () => undefined,
    };
  });
}

/** The rendered object `kind/name`; throws when the set has none. */
export function findObject(ms: Manifest[], kind: string, name: string): K8sObject {
  const m = ms.find((x) => x.obj.kind === kind && x.obj.metadata?.name === name);
  if (!m) throw new Error(`${kind}/${name} not rendered`);
  return m.obj;
}
