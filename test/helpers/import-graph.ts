/**
 * The import graph of a TypeScript source tree, read the way the compiler's pre-processor reads
 * it: static imports and re-exports (type-only ones included), dynamic `import()`, `require()`
 * and `typeof import()`. Only relative specifiers are edges; packages are outside the tree.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

/** One import: the importing file, the line, and the file it resolves to (paths relative to the root). */
export interface ImportEdge {
  from: string;
  line: number;
  to: string;
}

/** Every `.ts` file under `root`, relative to it, sorted. */
export function sourceFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(path.relative(root, p));
    }
  };
  walk(root);
  return out.sort();
}

/**
 * Every relative import of every file under `root`. A specifier that resolves to no file under
 * `root` is returned in `unresolved` (as `file:line specifier`).
 */
export function readImports(root: string): { files: string[]; edges: ImportEdge[]; unresolved: string[] } {
  const files = sourceFiles(root);
  const edges: ImportEdge[] = [];
  const unresolved: string[] = [];
  for (const file of files) {
    const text = fs.readFileSync(path.join(root, file), 'utf8');
    const info = ts.preProcessFile(text, true, true);
    for (const imp of info.importedFiles) {
      if (!imp.fileName.startsWith('.')) continue;
      const line = text.slice(0, imp.pos).split('\n').length;
      const target = resolve(root, file, imp.fileName);
      if (target === null) unresolved.push(`${file}:${line} ${imp.fileName}`);
      else edges.push({ from: file, line, to: target });
    }
  }
  return { files, edges, unresolved };
}

function resolve(root: string, from: string, spec: string): string | null {
  const base = path.resolve(root, path.dirname(from), spec);
  for (const candidate of [`${base}.ts`, path.join(base, 'index.ts')]) {
    const rel = path.relative(root, candidate);
    if (!rel.startsWith('..') && fs.existsSync(candidate)) return rel;
  }
  return null;
}

/** The top-level folder of a file under the root; files directly in the root belong to `(root)`. */
export function folderOf(file: string): string {
  const parts = file.split(path.sep);
  return parts.length > 1 ? parts[0] : '(root)';
}

/** Strongly connected components with more than one node: the cycles of a directed graph. */
export function cycles(nodes: Iterable<string>, next: (n: string) => Iterable<string>): string[][] {
  // Tarjan's algorithm, iterative so a deep tree cannot overflow the stack.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  let counter = 0;
  for (const start of nodes) {
    if (index.has(start)) continue;
    const work: { node: string; it: Iterator<string> }[] = [];
    const enter = (n: string) => {
      index.set(n, counter);
      low.set(n, counter++);
      stack.push(n);
      onStack.add(n);
      work.push({ node: n, it: next(n)[Symbol.iterator]() });
    };
    enter(start);
    while (work.length > 0) {
      const top = work[work.length - 1];
      const step = top.it.next();
      if (!step.done) {
        const w = step.value;
        if (!index.has(w)) enter(w);
        else if (onStack.has(w)) low.set(top.node, Math.min(low.get(top.node)!, index.get(w)!));
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1].node;
        low.set(parent, Math.min(low.get(parent)!, low.get(top.node)!));
      }
      if (low.get(top.node) === index.get(top.node)) {
        const component: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          component.push(w);
        } while (w !== top.node);
        if (component.length > 1) out.push(component.sort());
      }
    }
  }
  return out;
}
